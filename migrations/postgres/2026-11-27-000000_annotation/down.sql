DROP TABLE invites;
DROP TABLE judgements;
DROP TABLE assignments;
DROP TABLE study_items;
DROP TABLE studies;
DROP TABLE sessions;
DROP TABLE users;
