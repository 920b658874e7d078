-- Composite search parameters and Location `near` (https://hl7.org/fhir/R4/search.html#composite,
-- https://hl7.org/fhir/R4/location.html#positional). Same conventions as migration 0002: keyed
-- like the resource, no primary key, a value index and a resource index.

-- Composite: one row per combination of component values found in ONE element (an
-- Observation.component, a useContext, the Observation itself), so that the components of a
-- search value are matched together, never across elements. Up to three components, each in
-- seven slots of which its type uses some (fireside/store/indexing/composites.py):
--   token      system, value          reference  system (target type), value (target id), extra (url)
--   string     value (normalized)     quantity   low, high, system, value (code), extra (unit)
--   uri        value                  number     low, high
--   date       date_low, date_high
-- Unused slots are NULL, which costs a bit each in the row header. The value index leads with
-- the first component (a code in every R4 composite); the second component is checked on the
-- rows of that code. Including it in the index would make those checks index-only at about
-- twice the index size, which the expected use (a code, then a value) does not yet justify.
CREATE TABLE search_composite (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    parameter     text COLLATE "C" NOT NULL,
    c1_system     text COLLATE "C",
    c1_value      text COLLATE "C",
    c1_extra      text COLLATE "C",
    c1_low        numeric,
    c1_high       numeric,
    c1_date_low   timestamptz,
    c1_date_high  timestamptz,
    c2_system     text COLLATE "C",
    c2_value      text COLLATE "C",
    c2_extra      text COLLATE "C",
    c2_low        numeric,
    c2_high       numeric,
    c2_date_low   timestamptz,
    c2_date_high  timestamptz,
    c3_system     text COLLATE "C",
    c3_value      text COLLATE "C",
    c3_extra      text COLLATE "C",
    c3_low        numeric,
    c3_high       numeric,
    c3_date_low   timestamptz,
    c3_date_high  timestamptz
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_composite_value_idx ON search_composite (project_id, resource_type, parameter, c1_value, c1_system, resource_id);
CREATE INDEX search_composite_resource_idx ON search_composite (resource_id, resource_type, project_id, parameter);

-- Position: Location.position in WGS84 degrees. `near` is a bounding box on (latitude,
-- longitude) through the value index (a latitude range; longitude checked inside the index),
-- then the exact great-circle distance on what the box keeps. A B-tree, not a GiST index on a
-- point: no extension (PostGIS, cube/earthdistance) is needed, and Locations are few.
CREATE TABLE search_position (
    project_id    uuid             NOT NULL,
    resource_type text             NOT NULL,
    resource_id   text             NOT NULL,
    parameter     text             COLLATE "C" NOT NULL,
    latitude      double precision NOT NULL,
    longitude     double precision NOT NULL
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_position_value_idx ON search_position (project_id, resource_type, parameter, latitude, longitude, resource_id);
CREATE INDEX search_position_resource_idx ON search_position (resource_id, resource_type, project_id, parameter);
