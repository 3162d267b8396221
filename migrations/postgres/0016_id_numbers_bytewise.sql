-- ID numbers compare byte by byte, as SQLite compares them, whatever the server's locale: the
-- bank files and the summary list people in the same order on both databases. A locale's
-- comparison also costs more: PostgreSQL calls the C library's strcoll for every comparison
-- and sorts without abbreviated keys, where "C" compares the bytes (at a million people the
-- roster import's unique index on ID numbers took 0.4–0.8 s less, issue 15).
ALTER TABLE technicians ALTER COLUMN id_number TYPE TEXT COLLATE "C";
