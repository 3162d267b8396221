//! The bank's return file (回盘文件): its layout in the bank template and its reader.
