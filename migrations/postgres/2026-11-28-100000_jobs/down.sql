DROP TABLE job_templates;
DROP TABLE job_log;
DROP TABLE jobs;
