-- Orleans ADO.NET clustering (Microsoft.Orleans.Clustering.AdoNet, invariant "Npgsql").
--
-- The provider issues only the statements stored in OrleansQuery, looked up by key, and reads their
-- results by column name; the keys, parameter names and result columns below are its contract.
-- Table layout and statement text are ours. The provider reads the OrleansQuery table once at
-- start-up and refuses to start when a key it needs is missing.
--
-- Optimistic concurrency: OrleansMembershipVersionTable holds one version per cluster (DeploymentId).
-- Every membership change names the version it read; the change applies only if that version is
-- still current, and bumps it in the same transaction, so two silos voting at once cannot both win.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64)   NOT NULL PRIMARY KEY,
    QueryText varchar(8000) NOT NULL
);

CREATE TABLE IF NOT EXISTS OrleansMembershipVersionTable
(
    DeploymentId varchar(150)   NOT NULL PRIMARY KEY,
    Timestamp    timestamptz(3) NOT NULL DEFAULT now(),
    Version      integer        NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS OrleansMembershipTable
(
    DeploymentId varchar(150)   NOT NULL REFERENCES OrleansMembershipVersionTable (DeploymentId),
    Address      varchar(45)    NOT NULL,
    Port         integer        NOT NULL,
    Generation   integer        NOT NULL,
    SiloName     varchar(150)   NOT NULL,
    HostName     varchar(150)   NOT NULL,
    Status       integer        NOT NULL,
    ProxyPort    integer        NULL,
    SuspectTimes varchar(8000)  NULL,
    StartTime    timestamptz(3) NOT NULL,
    IAmAliveTime timestamptz(3) NOT NULL,
    PRIMARY KEY (DeploymentId, Address, Port, Generation)
);

-- Adds a silo row and bumps the cluster version, both or neither. Returns 1 when the row was added,
-- 0 when the row already existed or the caller's version is stale (the provider then re-reads and retries).
CREATE OR REPLACE FUNCTION orleans_membership_insert(
    p_deployment_id varchar, p_address varchar, p_port integer, p_generation integer, p_silo_name varchar,
    p_host_name varchar, p_status integer, p_proxy_port integer, p_start_time timestamptz,
    p_i_am_alive_time timestamptz, p_expected_version integer)
RETURNS integer
LANGUAGE plpgsql AS
$fn$
BEGIN
    -- Locking the version row serialises the writers of one cluster; a writer that waited re-checks
    -- the version against the row the winner committed, so a stale caller finds nothing.
    PERFORM 1 FROM OrleansMembershipVersionTable
      WHERE DeploymentId = p_deployment_id AND Version = p_expected_version
      FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    INSERT INTO OrleansMembershipTable
        (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
    VALUES
        (p_deployment_id, p_address, p_port, p_generation, p_silo_name, p_host_name, p_status, p_proxy_port, p_start_time, p_i_am_alive_time)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1, Timestamp = now()
     WHERE DeploymentId = p_deployment_id;
    RETURN 1;
END
$fn$;

-- Changes a silo's status and suspicions when the caller's version is current, and bumps the version.
-- Returns 1, or 0 (nothing changed) when the version is stale or the silo has no row.
CREATE OR REPLACE FUNCTION orleans_membership_update(
    p_deployment_id varchar, p_address varchar, p_port integer, p_generation integer, p_status integer,
    p_suspect_times varchar, p_i_am_alive_time timestamptz, p_expected_version integer)
RETURNS integer
LANGUAGE plpgsql AS
$fn$
BEGIN
    PERFORM 1 FROM OrleansMembershipVersionTable
      WHERE DeploymentId = p_deployment_id AND Version = p_expected_version
      FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    UPDATE OrleansMembershipTable
       SET Status = p_status, SuspectTimes = p_suspect_times, IAmAliveTime = p_i_am_alive_time
     WHERE DeploymentId = p_deployment_id AND Address = p_address AND Port = p_port AND Generation = p_generation;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1, Timestamp = now()
     WHERE DeploymentId = p_deployment_id;
    RETURN 1;
END
$fn$;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey', $q$
    WITH added AS (
        INSERT INTO OrleansMembershipVersionTable (DeploymentId)
        VALUES (@DeploymentId)
        ON CONFLICT (DeploymentId) DO NOTHING
        RETURNING 1)
    SELECT count(*)::integer FROM added;
$q$),
('InsertMembershipKey', $q$
    SELECT orleans_membership_insert(@DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName,
                                     @Status, @ProxyPort, @StartTime, @IAmAliveTime, @Version);
$q$),
('UpdateMembershipKey', $q$
    SELECT orleans_membership_update(@DeploymentId, @Address, @Port, @Generation, @Status,
                                     @SuspectTimes, @IAmAliveTime, @Version);
$q$),
-- Heartbeats do not take part in versioning: they only show others that the silo still runs.
('UpdateIAmAlivetimeKey', $q$
    UPDATE OrleansMembershipTable
       SET IAmAliveTime = @IAmAliveTime
     WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;
$q$),
-- Both reads return the version row even when no silo matches (left join), because the provider
-- takes the table's version from it.
('MembershipReadRowKey', $q$
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
           m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
      FROM OrleansMembershipVersionTable v
      LEFT JOIN OrleansMembershipTable m
        ON m.DeploymentId = v.DeploymentId AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
     WHERE v.DeploymentId = @DeploymentId;
$q$),
('MembershipReadAllKey', $q$
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
           m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
      FROM OrleansMembershipVersionTable v
      LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
     WHERE v.DeploymentId = @DeploymentId;
$q$),
('GatewaysQueryKey', $q$
    SELECT Address, ProxyPort, Generation
      FROM OrleansMembershipTable
     WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0;
$q$),
-- Removes the whole cluster; the membership rows go first because they reference the version row
-- (both deletes are one statement, and the foreign key is checked at its end).
('DeleteMembershipTableEntriesKey', $q$
    WITH silos AS (DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId)
    DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;
$q$),
-- Forgets silos that have stopped heart-beating before the cut-off and are not Active (3), so the
-- table does not grow with every restart.
('CleanupDefunctSiloEntriesKey', $q$
    DELETE FROM OrleansMembershipTable
     WHERE DeploymentId = @DeploymentId AND IAmAliveTime < @IAmAliveTime AND Status <> 3;
$q$)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;
