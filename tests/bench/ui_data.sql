-- Rows for the UI figures of tests/bench/run.sh, made with SQL alone (no
-- scheduler, no task runs), into an empty migrated database:
--
--   bench_grid   a DAG of :tasks tasks (a chain; task t050 mapped over 4
--                instances) with :runs finished runs, an hour apart, and
--                one task instance per task and run
--   ui_NNNNN     :dags small DAGs (3 tasks), each with 2 runs of 3 task
--                instances, for the DAG list
--   bench_graph  a DAG of :graph_tasks tasks in task groups of 50 (g00,
--                g01, ...: a start task, 4 lanes of 12 chained tasks, an end
--                task), each group after the one before and the one before
--                that (a dependency a longer path implies), every 11th task
--                also after its twin in the group before; one run with a
--                few failures, for the graph
--
-- psql -v runs=1000 -v tasks=100 -v dags=10000 -v graph_tasks=1000 -f tests/bench/ui_data.sql
\set ON_ERROR_STOP 1

INSERT INTO dag (dag_id, fileloc, is_paused, schedule, tags, owners, next_dagrun,
                 next_dagrun_create_after)
VALUES ('bench_grid', '/bench/bench_grid.yaml', false, '@hourly', '{bench,grid}', 'bench',
        '2030-01-01', '2030-01-01 01:00');
INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)
SELECT 'bench_grid', 1, 'bench',
       jsonb_build_object(
         'format', 1, 'dag_id', 'bench_grid', 'schedule', '@hourly',
         'task_order', (SELECT jsonb_agg(format('t%s', lpad(k::text, 3, '0')) ORDER BY k)
                          FROM generate_series(1, :tasks) k),
         'tasks', (SELECT jsonb_object_agg(format('t%s', lpad(k::text, 3, '0')),
                            jsonb_build_object(
                              'task_id', format('t%s', lpad(k::text, 3, '0')),
                              'operator', 'BashOperator',
                              'upstream_task_ids', CASE WHEN k > 1
                                THEN jsonb_build_array(format('t%s', lpad((k - 1)::text, 3, '0')))
                                ELSE '[]'::jsonb END)
                            || CASE WHEN k = 50 THEN '{"expand": {"env": [{}, {}, {}, {}]}}'::jsonb
                                    ELSE '{}'::jsonb END)
                     FROM generate_series(1, :tasks) k)),
       '/bench/bench_grid.yaml';
UPDATE dag SET version_id = v.id FROM dag_version v
 WHERE v.dag_id = dag.dag_id AND dag.dag_id = 'bench_grid';

INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date,
                     data_interval_start, data_interval_end, queued_at, start_date, end_date)
SELECT 'bench_grid', 'scheduled__' || g, (SELECT version_id FROM dag WHERE dag_id = 'bench_grid'),
       'scheduled', CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'success' END,
       timestamptz '2025-01-01' + g * interval '1 hour',
       timestamptz '2025-01-01' + g * interval '1 hour',
       timestamptz '2025-01-01' + (g + 1) * interval '1 hour',
       timestamptz '2025-01-01' + (g + 1) * interval '1 hour',
       timestamptz '2025-01-01' + (g + 1) * interval '1 hour' + interval '1 second',
       timestamptz '2025-01-01' + (g + 1) * interval '1 hour' + interval '3 minutes'
  FROM generate_series(1, :runs) g;
INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, map_index, state, try_number,
                           max_tries, operator, hostname, queued_at, start_date, end_date,
                           duration, updated_at)
SELECT dr.id, dr.dag_id, dr.run_id, format('t%s', lpad(k::text, 3, '0')), m,
       CASE WHEN dr.state = 'failed' AND k = :tasks THEN 'failed'
            WHEN k % 17 = 0 THEN 'skipped' ELSE 'success' END,
       1, 0, 'BashOperator', 'bench', dr.start_date, dr.start_date + k * interval '1 second',
       dr.start_date + k * interval '1 second' + interval '200 ms', 0.2, dr.end_date
  FROM dag_run dr
 CROSS JOIN generate_series(1, :tasks) k
 CROSS JOIN LATERAL generate_series(CASE WHEN k = 50 THEN 0 ELSE -1 END,
                                    CASE WHEN k = 50 THEN 3 ELSE -1 END) m
 WHERE dr.dag_id = 'bench_grid';

INSERT INTO dag (dag_id, fileloc, is_paused, schedule, tags, owners, description, next_dagrun,
                 next_dagrun_create_after)
SELECT format('ui_%s', lpad(g::text, 5, '0')), format('/bench/ui_%s.yaml', lpad(g::text, 5, '0')),
       g % 3 = 0, '0 3 * * *', ARRAY['bench', format('team%s', g % 20)], format('owner%s', g % 7),
       format('filler DAG %s', g), '2030-01-01', '2030-01-02'
  FROM generate_series(1, :dags) g;
INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)
SELECT d.dag_id, 1, 'bench',
       jsonb_build_object('format', 1, 'dag_id', d.dag_id, 'task_order', '["a", "b", "c"]'::jsonb,
                          'tasks', '{"a": {"task_id": "a", "operator": "BashOperator"},
                                     "b": {"task_id": "b", "operator": "BashOperator"},
                                     "c": {"task_id": "c", "operator": "BashOperator"}}'::jsonb),
       d.fileloc
  FROM dag d WHERE d.dag_id LIKE 'ui\_%';
UPDATE dag SET version_id = v.id FROM dag_version v
 WHERE v.dag_id = dag.dag_id AND dag.dag_id LIKE 'ui\_%';
INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date,
                     data_interval_start, data_interval_end, queued_at, start_date, end_date)
SELECT d.dag_id, 'scheduled__' || g, d.version_id, 'scheduled',
       CASE WHEN g = 2 AND d.dag_id LIKE '%7' THEN 'failed' ELSE 'success' END,
       timestamptz '2025-01-01' + g * interval '1 day', timestamptz '2025-01-01' + g * interval '1 day',
       timestamptz '2025-01-01' + (g + 1) * interval '1 day', timestamptz '2025-01-02' + g * interval '1 day',
       timestamptz '2025-01-02' + g * interval '1 day', timestamptz '2025-01-02' + g * interval '1 day' + interval '1 minute'
  FROM dag d CROSS JOIN generate_series(1, 2) g WHERE d.dag_id LIKE 'ui\_%';
INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, try_number, operator,
                           start_date, end_date, duration)
SELECT dr.id, dr.dag_id, dr.run_id, t, CASE WHEN dr.state = 'failed' AND t = 'c' THEN 'failed' ELSE 'success' END,
       1, 'BashOperator', dr.start_date, dr.end_date, 60
  FROM dag_run dr CROSS JOIN unnest(ARRAY['a', 'b', 'c']) t WHERE dr.dag_id LIKE 'ui\_%';

-- bench_graph: task k is the i-th (k % 50) of group g (k / 50).
CREATE TEMP TABLE graph_task AS
SELECT k, k / 50 AS g, k % 50 AS i,
       format('g%s', lpad((k / 50)::text, 2, '0')) || CASE
         WHEN k % 50 = 0 THEN '.start' WHEN k % 50 = 49 THEN '.end'
         ELSE format('.l%s_s%s', (k % 50 - 1) % 4, lpad(((k % 50 - 1) / 4)::text, 2, '0')) END AS task_id
  FROM generate_series(0, :graph_tasks - 1) k;
CREATE TEMP TABLE graph_edge AS
SELECT t.task_id, u.task_id AS upstream
  FROM graph_task t JOIN graph_task u ON
       (t.i = 0 AND u.i = 49 AND u.g IN (t.g - 1, t.g - 2))
    OR (t.i BETWEEN 1 AND 4 AND u.g = t.g AND u.i = 0)
    OR (t.i BETWEEN 5 AND 48 AND u.g = t.g AND u.i = t.i - 4)
    OR (t.i BETWEEN 5 AND 48 AND t.i % 11 = 0 AND u.g = t.g - 1 AND u.i = t.i)
    OR (t.i = 49 AND u.g = t.g AND u.i BETWEEN 45 AND 48);
INSERT INTO dag (dag_id, fileloc, is_paused, schedule, tags, owners, next_dagrun,
                 next_dagrun_create_after)
VALUES ('bench_graph', '/bench/bench_graph.yaml', true, NULL, '{bench,graph}', 'bench', NULL, NULL);
INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)
SELECT 'bench_graph', 1, 'bench',
       jsonb_build_object(
         'format', 1, 'dag_id', 'bench_graph',
         'task_order', (SELECT jsonb_agg(task_id ORDER BY k) FROM graph_task),
         'tasks', (SELECT jsonb_object_agg(t.task_id, jsonb_build_object(
                            'task_id', t.task_id, 'operator', 'BashOperator',
                            'task_group', format('g%s', lpad(t.g::text, 2, '0')),
                            'upstream_task_ids', coalesce((SELECT jsonb_agg(e.upstream ORDER BY e.upstream)
                                                             FROM graph_edge e WHERE e.task_id = t.task_id),
                                                          '[]'::jsonb)))
                     FROM graph_task t),
         'task_groups', (SELECT jsonb_agg(jsonb_build_object(
                                  'group_id', format('g%s', lpad(g::text, 2, '0')),
                                  'label', format('g%s', lpad(g::text, 2, '0')), 'tooltip', '',
                                  'prefix_group_id', true,
                                  'task_ids', (SELECT jsonb_agg(task_id ORDER BY k) FROM graph_task WHERE graph_task.g = gs.g),
                                  'children', '[]'::jsonb) ORDER BY g)
                           FROM (SELECT DISTINCT g FROM graph_task) gs)),
       '/bench/bench_graph.yaml';
UPDATE dag SET version_id = v.id FROM dag_version v
 WHERE v.dag_id = dag.dag_id AND dag.dag_id = 'bench_graph';
INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date,
                     data_interval_start, data_interval_end, queued_at, start_date, end_date)
SELECT 'bench_graph', 'manual__1', version_id, 'manual', 'failed', timestamptz '2025-01-01',
       timestamptz '2025-01-01', timestamptz '2025-01-01', timestamptz '2025-01-01',
       timestamptz '2025-01-01', timestamptz '2025-01-01' + interval '1 hour'
  FROM dag WHERE dag_id = 'bench_graph';
INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, try_number, operator,
                           start_date, end_date, duration)
SELECT dr.id, dr.dag_id, dr.run_id, t.task_id,
       CASE WHEN t.k % 97 = 0 THEN 'failed' WHEN t.k % 31 = 0 THEN 'skipped' ELSE 'success' END,
       1, 'BashOperator', dr.start_date, dr.end_date, 1
  FROM dag_run dr CROSS JOIN graph_task t WHERE dr.dag_id = 'bench_graph';

INSERT INTO import_error (filename, stack_trace)
VALUES ('/bench/broken.yaml', '/bench/broken.yaml:1:1: bench import error');

ANALYZE dag;
ANALYZE dag_version;
ANALYZE dag_run;
ANALYZE task_instance;
