\timing on
\echo '(a) Observation?code=loinc|8867-4&date=ge2025-01-01&_sort=-date: the date high index, newest first, code probed'
SELECT r.id, d.high FROM search_date d JOIN resource r ON r.project_id = d.project_id AND r.resource_type = d.resource_type AND r.id = d.resource_id
WHERE d.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND d.resource_type = 'Observation' AND d.parameter = 'date' AND d.high > '2025-01-01'
  AND EXISTS (SELECT 1 FROM search_token t WHERE t.project_id = d.project_id AND t.resource_type = 'Observation' AND t.parameter = 'code' AND t.value = '8867-4' AND t.system = 'http://loinc.org' AND t.resource_id = d.resource_id)
ORDER BY d.high DESC, d.resource_id DESC LIMIT 21;
\echo '(b) _include=Encounter:participant for a page of a patient encounters'
SELECT i.target_type, i.target_id FROM search_reference i
WHERE i.resource_id IN (SELECT i2.resource_id FROM search_reference i2 WHERE i2.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND i2.resource_type = 'Encounter' AND i2.parameter = 'subject' AND i2.target_id = '01a211c6-270b-72e5-887a-e98b95e96a0a-140' AND i2.target_type = 'Patient' LIMIT 20)
  AND i.resource_type = 'Encounter' AND i.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND i.parameter = 'participant';
\echo '(c) Patient?_has:Observation:patient:code=loinc|2093-3 (page of 20)'
SELECT p.id FROM resource p WHERE p.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND p.resource_type = 'Patient' AND NOT p.deleted AND p.id IN (
  SELECT ref.target_id FROM search_reference ref WHERE ref.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND ref.resource_type = 'Observation' AND ref.parameter = 'subject' AND ref.target_type = 'Patient'
  AND ref.resource_id IN (SELECT t.resource_id FROM search_token t WHERE t.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND t.resource_type = 'Observation' AND t.parameter = 'code' AND t.value = '2093-3' AND t.system = 'http://loinc.org'))
ORDER BY p.id LIMIT 21;
\echo '(d) Observation?subject:Patient.family=miller (chain), page of 20'
SELECT r.id FROM resource r WHERE r.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND r.resource_type = 'Observation' AND NOT r.deleted AND r.id IN (
  SELECT ref.resource_id FROM search_reference ref WHERE ref.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND ref.resource_type = 'Observation' AND ref.parameter = 'subject' AND ref.target_type = 'Patient'
  AND ref.target_id IN (SELECT s.resource_id FROM search_string s WHERE s.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND s.resource_type = 'Patient' AND s.parameter = 'family' AND s.normalized >= 'miller' AND s.normalized < 'milles'))
ORDER BY r.id LIMIT 21;
\echo '(e) Condition?code=sct|a,sct|b,... with the system: merge of id-ordered scans?'
EXPLAIN (ANALYZE, COSTS OFF) SELECT r.id FROM resource r WHERE r.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND r.resource_type = 'Condition' AND NOT r.deleted AND r.id IN (
 SELECT i.resource_id FROM search_token i WHERE i.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND i.resource_type = 'Condition' AND i.parameter = 'code' AND i.value = '195662009' AND i.system = 'http://snomed.info/sct'
 UNION ALL SELECT i.resource_id FROM search_token i WHERE i.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND i.resource_type = 'Condition' AND i.parameter = 'code' AND i.value = '271737000' AND i.system = 'http://snomed.info/sct'
 UNION ALL SELECT i.resource_id FROM search_token i WHERE i.project_id = '85d56317-285a-473c-8791-607cc7f69d46' AND i.resource_type = 'Condition' AND i.parameter = 'code' AND i.value = '38341003' AND i.system = 'http://snomed.info/sct')
ORDER BY r.id LIMIT 21;
