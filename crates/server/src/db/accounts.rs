//! Accounts in the database (tables from `migrations/sqlite/0003_accounts.sql`, the devices' sync
//! client from `0004_device_clients.sql`, a handling-unit account's unit from
//! `0008_followup.sql`): users and their scopes, enrolled devices (and the sync client each is
//! bound to), sessions, the failed-sign-in counter and lock, the first administrator and the demo
//! accounts. Passwords arrive here already hashed; tokens as their
//! hashes (see `auth.rs`).

use super::Db;
use super::backend::{Begin, Conn, Row, in_list};
use crate::auth::{Auth, DeviceRef, Passwords, new_id, new_password, now_ms};
use liaison_domain::{DeputyId, Directory, RegionId, Role, Scope, StationId, UnitId};
use std::sync::{Arc, Mutex, PoisonError};

/// A user to create. `password_hash` is a PHC string from [`Passwords::hash`].
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub deputy_id: Option<DeputyId>,
    /// The unit a handling-unit account acts for (only that role has one).
    pub unit_id: Option<UnitId>,
    pub scopes: Vec<Scope>,
    pub password_hash: String,
}

/// What a sign-in checks about a user.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user_id: String,
    pub password_hash: String,
    pub locked_until: Option<i64>,
    pub disabled: bool,
}

/// A device as the revocation check needs it.
#[derive(Clone, Debug)]
pub struct DeviceRow {
    pub station_id: StationId,
    pub revoked_at: Option<i64>,
}

/// An account that has signed in on a device at some time, as it is now: the accounts whose
/// follow-up steps a shared tablet may push under another account's session
/// (`crate::access::SessionAuthority`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAccount {
    pub user_id: String,
    pub role: Role,
    pub unit_id: Option<UnitId>,
    pub scopes: Vec<Scope>,
}

/// What a push route checks before the push, read with its session ([`Db::push_session`]): on a
/// device, [`ClientBinding::Bound`] if the device is bound to exactly this client and no other
/// device nor an account's server-side client has it, [`ClientBinding::Unbound`] if the device
/// has no client yet (then [`Db::bind_device_client`] binds it, deciding races),
/// [`ClientBinding::Mismatch`] otherwise; without a device, bound unless another device or an
/// account's server-side client has it (the rule [`Db::bind_device_client`] applies too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushClient {
    pub binding: ClientBinding,
    /// For [`Db::station_hierarchy_at`].
    pub directory_version: i64,
}

/// Whether a push's sync client goes with the session's device (or, off a device, is free).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientBinding {
    Bound,
    /// The device has no client yet: [`Db::bind_device_client`] decides.
    Unbound,
    Mismatch,
}

/// The station hierarchy this server instance read last, with the directory version read in
/// the same snapshot ([`Db::station_hierarchy_at`]). Never authoritative: used only for the
/// version it was read at.
#[derive(Default)]
pub(crate) struct HierarchyCache(Mutex<Option<(i64, Arc<Directory>)>>);

impl HierarchyCache {
    fn get(&self, version: i64) -> Option<Arc<Directory>> {
        let cached = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cached
            .as_ref()
            .filter(|(at, _)| *at == version)
            .map(|(_, hierarchy)| Arc::clone(hierarchy))
    }

    /// Keeps `hierarchy` unless a later version is kept already (a slower reader finishing
    /// after a faster one).
    fn put(&self, version: i64, hierarchy: &Arc<Directory>) {
        let mut cached = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.as_ref().is_none_or(|(at, _)| *at <= version) {
            *cached = Some((version, Arc::clone(hierarchy)));
        }
    }
}

impl std::fmt::Debug for HierarchyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("HierarchyCache")
            .field("version", &cached.as_ref().map(|(at, _)| *at))
            .finish_non_exhaustive()
    }
}

/// The session query of [`Db::session_by_token_hash`], with `$extra` columns: the session, its
/// user and device, and one row per scope of the user (or one row without).
macro_rules! session_query {
    ($extra:literal) => {
        concat!(
            "SELECT s.id AS session_id, s.expires_at, u.id AS user_id, u.username, \
                    u.display_name, u.role, u.deputy_id, u.unit_id, d.id AS device_id, \
                    d.station_id AS device_station_id, us.region_id, us.station_id",
            $extra,
            " FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             LEFT JOIN devices d ON d.id = s.device_id \
             LEFT JOIN user_scopes us ON us.user_id = u.id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
               AND NOT u.disabled \
               AND (s.device_id IS NULL OR d.revoked_at IS NULL) \
             ORDER BY us.id"
        )
    };
}

/// The signed-in user of the rows of a [`session_query`] (none: no live session).
fn auth_from_rows(rows: &[Row]) -> Result<Option<Auth>, sqlx::Error> {
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let role_name: String = row.try_get("role")?;
    let Some(role) = Role::parse(&role_name) else {
        tracing::error!(role = %role_name, "unknown role in the users table");
        return Ok(None);
    };
    let device = match row.try_get::<Option<String>>("device_id")? {
        Some(id) => Some(DeviceRef {
            id,
            station_id: StationId(row.try_get("device_station_id")?),
        }),
        None => None,
    };
    let scopes = rows
        .iter()
        .filter_map(|row| scope_from_row(row).transpose())
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Some(Auth {
        session_id: row.try_get("session_id")?,
        session_expires_at: row.try_get("expires_at")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role,
        deputy_id: row.try_get::<Option<String>>("deputy_id")?.map(DeputyId),
        unit_id: row.try_get::<Option<String>>("unit_id")?.map(UnitId),
        scopes,
        device,
    }))
}

/// Usernames are compared trimmed and lower-cased.
pub fn normalize_username(username: &str) -> String {
    username.trim().to_lowercase()
}

impl Db {
    /// How many users exist (0 on first start).
    pub async fn user_count(&self) -> Result<i64, sqlx::Error> {
        self.acquire()
            .await?
            .query("SELECT COUNT(*) AS n FROM users WHERE id <> 'system'")
            .fetch_one()
            .await?
            .try_get("n")
    }

    /// Creates a user with its scopes in one transaction. `Ok(None)` if the username is taken.
    pub async fn create_user(&self, user: &NewUser) -> Result<Option<String>, sqlx::Error> {
        // The upsert on the unique username decides a race; no lock needed.
        let mut tx = self.pool.begin(Begin::Plain).await?;
        let id = insert_user(&mut tx.conn(), user).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// On first start (no user at all) creates `admin` with a generated password and returns the
    /// password, which the caller shows once. `Ok(None)` when users exist.
    pub async fn create_first_admin(
        &self,
        passwords: &Passwords,
    ) -> anyhow::Result<Option<String>> {
        if self.user_count().await? > 0 {
            return Ok(None);
        }
        let password = new_password()?;
        let user = NewUser {
            username: "admin".into(),
            display_name: "Administrator".into(),
            role: Role::Admin,
            deputy_id: None,
            unit_id: None,
            scopes: Vec::new(),
            password_hash: hash_blocking(passwords, &password).await?,
        };
        // Locked before the count: two servers started on one database cannot both see no user.
        let mut tx = self.pool.begin(Begin::LockTables(&["users"])).await?;
        let count: i64 = tx
            .query("SELECT COUNT(*) AS n FROM users WHERE id <> 'system'")
            .fetch_one()
            .await?
            .try_get("n")?;
        if count > 0 {
            return Ok(None);
        }
        let created = insert_user(&mut tx.conn(), &user).await?;
        tx.commit().await?;
        Ok(created.map(|_| password))
    }

    /// The sign-in facts of `username` (normalised), if it exists.
    pub async fn credentials(&self, username: &str) -> Result<Option<Credentials>, sqlx::Error> {
        let username = normalize_username(username);
        let row = self
            .acquire()
            .await?
            .query(
                "SELECT id, password_hash, locked_until, disabled FROM users WHERE username = $1",
            )
            .bind(username.as_str())
            .fetch_optional()
            .await?;
        row.map(|row| {
            Ok(Credentials {
                user_id: row.try_get("id")?,
                password_hash: row.try_get("password_hash")?,
                locked_until: row.try_get("locked_until")?,
                disabled: row.try_get("disabled")?,
            })
        })
        .transpose()
    }

    /// Counts a failed sign-in; the `max_failures`-th in a row locks the user until
    /// `now + lock_ms` and starts the count again. One statement, so concurrent failures all count.
    /// `true` when this failure locked the account.
    pub async fn record_failed_sign_in(
        &self,
        user_id: &str,
        now: i64,
        max_failures: i64,
        lock_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let until = now.saturating_add(lock_ms);
        let locked_until: Option<i64> = self
            .acquire()
            .await?
            .query(
                "UPDATE users SET \
                     locked_until = CASE WHEN failed_attempts + 1 >= $1 THEN $2 \
                                         ELSE locked_until END, \
                     failed_attempts = CASE WHEN failed_attempts + 1 >= $1 THEN 0 \
                                            ELSE failed_attempts + 1 END \
                 WHERE id = $3 RETURNING locked_until",
            )
            .bind(max_failures)
            .bind(until)
            .bind(user_id)
            .fetch_optional()
            .await?
            .map(|row| row.try_get::<Option<i64>>("locked_until"))
            .transpose()?
            .flatten();
        Ok(locked_until == Some(until))
    }

    /// The enrolled, unrevoked device whose token hashes to `token_hash`.
    pub async fn active_device_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<DeviceRef>, sqlx::Error> {
        let row = self
            .acquire()
            .await?
            .query(
                "SELECT id, station_id FROM devices WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(token_hash)
            .fetch_optional()
            .await?;
        row.map(|row| {
            Ok(DeviceRef {
                id: row.try_get("id")?,
                station_id: StationId(row.try_get("station_id")?),
            })
        })
        .transpose()
    }

    /// Opens a session after a successful sign-in and clears the failure count, together.
    pub async fn create_session(
        &self,
        user_id: &str,
        device_id: Option<&str>,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        let id = new_id()?;
        let mut tx = self.pool.begin(Begin::Plain).await?;
        tx.query(
            "INSERT INTO sessions (id, user_id, device_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(user_id)
        .bind(device_id)
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute()
        .await?;
        tx.query("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = $1")
            .bind(user_id)
            .execute()
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The signed-in user of a session token, if the session is live: not revoked, not expired at
    /// `now`, its device (if any) not revoked, its user not disabled. One statement, the scopes
    /// joined (one row per scope, or one row without): it runs before every request that needs
    /// a session, so its round trips count (BENCHMARKS.md, Sync).
    pub async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Auth>, sqlx::Error> {
        let rows = self
            .acquire()
            .await?
            .query(session_query!(""))
            .bind(token_hash)
            .bind(now)
            .fetch_all()
            .await?;
        auth_from_rows(&rows)
    }

    /// [`Db::session_by_token_hash`] for a push of sync client `client_id`, and in the same
    /// statement what the push route checks before the push ([`PushClient`]): whether the
    /// client goes with the session's device (or, off a device, is nobody's) and the
    /// directory's version. Every push runs it on the pool that the requests share, ahead of
    /// its group: one round trip instead of three.
    pub async fn push_session(
        &self,
        token_hash: &str,
        now: i64,
        client_id: &str,
    ) -> Result<Option<(Auth, PushClient)>, sqlx::Error> {
        let rows = self
            .acquire()
            .await?
            .query(session_query!(
                ", d.client_id AS device_client, \
                 (SELECT value FROM directory_version WHERE id = 1) AS directory_version, \
                 EXISTS (SELECT 1 FROM devices o \
                         WHERE o.client_id = $3 AND (s.device_id IS NULL OR o.id <> s.device_id)) \
                 OR EXISTS (SELECT 1 FROM users o WHERE o.server_client_id = $3) AS elsewhere"
            ))
            .bind(token_hash)
            .bind(now)
            .bind(client_id)
            .fetch_all()
            .await?;
        let Some(auth) = auth_from_rows(&rows)? else {
            return Ok(None);
        };
        let row = &rows[0];
        // Another device's client, or the server's own client of an account (its online steps).
        let elsewhere: bool = row.try_get("elsewhere")?;
        let device_client: Option<String> = row.try_get("device_client")?;
        let binding = match (&auth.device, device_client) {
            _ if elsewhere => ClientBinding::Mismatch,
            (None, _) => ClientBinding::Bound,
            (Some(_), None) => ClientBinding::Unbound,
            (Some(_), Some(bound)) if bound == client_id => ClientBinding::Bound,
            (Some(_), Some(_)) => ClientBinding::Mismatch,
        };
        let checked = PushClient {
            binding,
            directory_version: row.try_get("directory_version")?,
        };
        Ok(Some((auth, checked)))
    }

    /// Every account that ever had a session on the device `device_id` (revoked and expired
    /// sessions included: a deputy who signed out still recorded what the tablet holds), with its
    /// current role, unit and scopes, by user id. Disabled accounts are included too, so that
    /// work recorded before an account was disabled still arrives.
    pub async fn device_accounts(
        &self,
        device_id: &str,
    ) -> Result<Vec<DeviceAccount>, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let rows = conn
            .query(
                "SELECT id, role, unit_id FROM users \
                 WHERE id IN (SELECT user_id FROM sessions WHERE device_id = $1) ORDER BY id",
            )
            .bind(device_id)
            .fetch_all()
            .await?;
        let mut accounts = Vec::with_capacity(rows.len());
        for row in rows {
            let role_name: String = row.try_get("role")?;
            let Some(role) = Role::parse(&role_name) else {
                tracing::error!(role = %role_name, "unknown role in the users table");
                continue;
            };
            let user_id: String = row.try_get("id")?;
            accounts.push(DeviceAccount {
                scopes: scopes(&mut conn.conn(), &user_id).await?,
                user_id,
                role,
                unit_id: row.try_get::<Option<String>>("unit_id")?.map(UnitId),
            });
        }
        Ok(accounts)
    }

    /// Ends a session (sign-out). Revoking twice keeps the first time.
    pub async fn revoke_session(&self, session_id: &str, now: i64) -> Result<(), sqlx::Error> {
        self.acquire()
            .await?
            .query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(session_id)
            .execute()
            .await?;
        Ok(())
    }

    /// Regions and stations only: what the scope rules walk. One statement when the directory
    /// has not changed since this instance last read it (see [`Db::station_hierarchy_at`]).
    pub async fn station_hierarchy(&self) -> Result<Directory, sqlx::Error> {
        let version = self.directory_version().await?;
        Ok(Directory::clone(
            &*self.station_hierarchy_at(version).await?,
        ))
    }

    /// The directory's version as committed now (migration `0015_directory_version.sql`: raised
    /// in the transaction of every change to the directory's tables).
    pub async fn directory_version(&self) -> Result<i64, sqlx::Error> {
        self.acquire()
            .await?
            .query("SELECT value FROM directory_version WHERE id = 1")
            .fetch_one()
            .await?
            .try_get("value")
    }

    /// The station hierarchy as of directory version `version` (read just before by the caller)
    /// or later. This instance keeps the hierarchy it last read with the version read in the same
    /// snapshot; the same version means the same committed rows, on this instance or any other
    /// sharing the database, so it is answered from memory, and read again (in one snapshot with
    /// its version) only when the version moved on. So a request sees the hierarchy as it was
    /// committed when it read the version, exactly as if it had read the tables then.
    pub async fn station_hierarchy_at(&self, version: i64) -> Result<Arc<Directory>, sqlx::Error> {
        if let Some(hierarchy) = self.hierarchy.get(version) {
            return Ok(hierarchy);
        }
        let mut tx = self.pool.begin(Begin::Snapshot).await?;
        let read_version: i64 = tx
            .query("SELECT value FROM directory_version WHERE id = 1")
            .fetch_one()
            .await?
            .try_get("value")?;
        let regions = tx
            .query("SELECT id, name, parent_id FROM regions ORDER BY id")
            .fetch_all()
            .await?
            .iter()
            .map(super::region_from_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let stations = tx
            .query("SELECT id, region_id, name, address FROM stations ORDER BY id")
            .fetch_all()
            .await?
            .iter()
            .map(super::station_from_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        tx.commit().await?;
        let hierarchy = Arc::new(Directory {
            regions,
            stations,
            ..Directory::default()
        });
        self.hierarchy.put(read_version, &hierarchy);
        Ok(hierarchy)
    }

    /// Enrols a device to a station; returns its id.
    pub async fn create_device(
        &self,
        station_id: &StationId,
        name: &str,
        enrolled_by: &str,
        token_hash: &str,
        now: i64,
    ) -> anyhow::Result<String> {
        let id = new_id()?;
        self.acquire()
            .await?
            .query(
                "INSERT INTO devices (id, station_id, name, enrolled_by, created_at, token_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.as_str())
            .bind(station_id.0.as_str())
            .bind(name)
            .bind(enrolled_by)
            .bind(now)
            .bind(token_hash)
            .execute()
            .await?;
        Ok(id)
    }

    /// Binds the sync client `client_id` to the device `device_id` if it has none yet, and
    /// answers whether the device is (now) bound to exactly that client. The conditional
    /// `UPDATE` (`client_id IS NULL`) decides between two first pushes with different clients
    /// on one device: on PostgreSQL the second waits for the first's row lock and then finds the
    /// column set. `false` too when the client is already bound to another device, whether seen
    /// by the check or, in a race of two devices, refused by the unique index.
    pub async fn bind_device_client(
        &self,
        device_id: &str,
        client_id: &str,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin(Begin::ReadThenWrite).await?;
        // Another device's client, or the server's own client of an account (its online steps).
        let elsewhere = tx
            .query(
                "SELECT id FROM devices WHERE client_id = $1 AND id <> $2 \
                 UNION ALL SELECT id FROM users WHERE server_client_id = $1",
            )
            .bind(client_id)
            .bind(device_id)
            .fetch_optional()
            .await?;
        if elsewhere.is_some() {
            return Ok(false);
        }
        let updated = tx
            .query("UPDATE devices SET client_id = $1 WHERE id = $2 AND client_id IS NULL")
            .bind(client_id)
            .bind(device_id)
            .execute()
            .await;
        match updated {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Ok(false),
            Err(err) => return Err(err),
        }
        let bound = tx
            .query("SELECT client_id FROM devices WHERE id = $1")
            .bind(device_id)
            .fetch_optional()
            .await?
            .map(|row| row.try_get::<Option<String>>("client_id"))
            .transpose()?
            .flatten();
        tx.commit().await?;
        Ok(bound.as_deref() == Some(client_id))
    }

    pub async fn device(&self, id: &str) -> Result<Option<DeviceRow>, sqlx::Error> {
        let row = self
            .acquire()
            .await?
            .query("SELECT station_id, revoked_at FROM devices WHERE id = $1")
            .bind(id)
            .fetch_optional()
            .await?;
        row.map(|row| {
            Ok(DeviceRow {
                station_id: StationId(row.try_get("station_id")?),
                revoked_at: row.try_get("revoked_at")?,
            })
        })
        .transpose()
    }

    /// Revokes a device and every session signed in on it, in one transaction. (The session
    /// check also looks at the device, so this is belt and braces.)
    pub async fn revoke_device(&self, id: &str, now: i64) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin(Begin::Plain).await?;
        tx.query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute()
            .await?;
        tx.query("UPDATE sessions SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute()
            .await?;
        // The keys that open the accounts' data keys on the tablet go with it: whoever holds
        // the tablet now can no longer have them handed out.
        tx.query("DELETE FROM device_keys WHERE device_id = $1")
            .bind(id)
            .execute()
            .await?;
        tx.commit().await
    }

    /// A station's tablets, revoked ones too, oldest first.
    pub async fn devices_of_station(
        &self,
        station: &StationId,
    ) -> Result<Vec<crate::accounts::DeviceListed>, sqlx::Error> {
        let rows = self
            .acquire()
            .await?
            .query(
                "SELECT id, name, created_at, revoked_at FROM devices WHERE station_id = $1 \
                 ORDER BY created_at, id",
            )
            .bind(station.0.as_str())
            .fetch_all()
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(crate::accounts::DeviceListed {
                    id: row.try_get("id")?,
                    station_id: station.clone(),
                    name: row.try_get("name")?,
                    created_at_ms: row.try_get("created_at")?,
                    revoked_at_ms: row.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Whether the device with this token is enrolled (`Some(false)`), revoked (`Some(true)`),
    /// or unknown (`None`).
    pub async fn device_revoked_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<bool>, sqlx::Error> {
        let row = self
            .acquire()
            .await?
            .query("SELECT revoked_at FROM devices WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional()
            .await?;
        row.map(|row| Ok(row.try_get::<Option<i64>>("revoked_at")?.is_some()))
            .transpose()
    }

    /// The device keys of `usernames` on `device_id` (see `0012_device_keys.sql`), each with its
    /// username. The key of `own_user_id` is made first when it has none (`new_key`); other
    /// accounts' keys are only read, so an account gets a key on a device only by signing in
    /// there itself.
    pub async fn device_keys(
        &self,
        device_id: &str,
        own_user_id: &str,
        new_key: &[u8],
        usernames: &[String],
        now: i64,
    ) -> Result<Vec<(String, Vec<u8>)>, sqlx::Error> {
        let mut tx = self.pool.begin(Begin::ReadThenWrite).await?;
        tx.query(
            "INSERT INTO device_keys (device_id, user_id, key_bytes, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (device_id, user_id) DO NOTHING",
        )
        .bind(device_id)
        .bind(own_user_id)
        .bind(new_key)
        .bind(now)
        .execute()
        .await?;
        let backend = self.pool.backend();
        let sql = format!(
            "SELECT u.username, k.key_bytes FROM device_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.device_id = $1 AND (k.user_id = $2 OR {}) ORDER BY u.username",
            in_list(backend, "u.username", 3, usernames.len().max(1))
        );
        let names: Vec<String> = if usernames.is_empty() {
            vec![String::new()]
        } else {
            usernames.to_vec()
        };
        let rows = tx
            .query(&sql)
            .bind(device_id)
            .bind(own_user_id)
            .bind_texts(names)
            .fetch_all()
            .await?;
        let keys = rows
            .into_iter()
            .map(|row| Ok((row.try_get("username")?, row.try_get("key_bytes")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        tx.commit().await?;
        Ok(keys)
    }

    /// With `--demo`: the demo handling units, then the demo accounts of [`DEMO_ACCOUNTS`], each
    /// created only if its username is free and the demo station it belongs to exists (i.e. the
    /// demo directory was seeded). Returns how many accounts were created.
    pub async fn seed_demo_accounts(&self, passwords: &Passwords) -> anyhow::Result<usize> {
        let hierarchy = self.station_hierarchy().await?;
        if hierarchy.station(&"station-xingfuli".into()).is_none() {
            tracing::info!("no demo directory: demo accounts not created");
            return Ok(0);
        }
        if super::seed::seed_demo_units(&self.pool).await? > 0 {
            tracing::info!("seeded the demo handling units");
        }
        let mut created = 0;
        for account in DEMO_ACCOUNTS {
            if self.credentials(account.username).await?.is_some() {
                continue;
            }
            let user = NewUser {
                username: account.username.into(),
                display_name: account.display_name.into(),
                role: account.role,
                deputy_id: account.deputy_id.map(Into::into),
                unit_id: account.unit_id.map(Into::into),
                scopes: account.scopes.iter().map(|s| s.to_scope()).collect(),
                password_hash: hash_blocking(passwords, account.password).await?,
            };
            if self.create_user(&user).await?.is_some() {
                created += 1;
            }
        }
        Ok(created)
    }
}

/// An account as administrators list and change it (no password hash).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub deputy_id: Option<DeputyId>,
    pub unit_id: Option<UnitId>,
    pub scopes: Vec<Scope>,
    pub disabled: bool,
    /// Milliseconds since the Unix epoch, while a lockout lasts.
    pub locked_until: Option<i64>,
}

/// A change of an account's role, deputy or unit, scopes and whether it is disabled.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct AccountChange {
    pub role: Role,
    #[serde(default)]
    pub deputy_id: Option<DeputyId>,
    #[serde(default)]
    pub unit_id: Option<UnitId>,
    #[serde(default)]
    pub scopes: Vec<Scope>,
    #[serde(default)]
    pub disabled: bool,
}

impl Db {
    /// Every account but the server's own `system` one, by username.
    pub async fn accounts(&self) -> Result<Vec<Account>, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let rows = conn
            .query(
                "SELECT id, username, display_name, role, deputy_id, unit_id, disabled, \
                        locked_until FROM users WHERE id <> $1 ORDER BY username",
            )
            .bind(SYSTEM_USER_ID)
            .fetch_all()
            .await?;
        let mut accounts = Vec::with_capacity(rows.len());
        for row in rows {
            let role_name: String = row.try_get("role")?;
            let Some(role) = Role::parse(&role_name) else {
                continue;
            };
            let id: String = row.try_get("id")?;
            accounts.push(Account {
                scopes: scopes(&mut conn.conn(), &id).await?,
                id,
                username: row.try_get("username")?,
                display_name: row.try_get("display_name")?,
                role,
                deputy_id: row.try_get::<Option<String>>("deputy_id")?.map(DeputyId),
                unit_id: row.try_get::<Option<String>>("unit_id")?.map(UnitId),
                disabled: row.try_get("disabled")?,
                locked_until: row.try_get("locked_until")?,
            });
        }
        Ok(accounts)
    }

    /// The account `username` (normalised), if there is one (never `system`).
    pub async fn account(&self, username: &str) -> Result<Option<Account>, sqlx::Error> {
        let username = normalize_username(username);
        Ok(self
            .accounts()
            .await?
            .into_iter()
            .find(|a| a.username == username))
    }

    /// Applies `change` to the account `user_id` in one transaction: role, deputy (kept only for
    /// a deputy), unit (only for a handling unit), scopes replaced, disabled; disabling also
    /// ends its sessions. The caller checked that the deputy, unit and scopes exist.
    pub async fn change_account(
        &self,
        user_id: &str,
        change: &AccountChange,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin(Begin::Plain).await?;
        let mut conn = tx.conn();
        let deputy = change
            .deputy_id
            .as_ref()
            .filter(|_| change.role == Role::Deputy);
        let unit = change
            .unit_id
            .as_ref()
            .filter(|_| change.role == Role::HandlingUnit);
        conn.query(
            "UPDATE users SET role = $1, deputy_id = $2, unit_id = $3, disabled = $4 WHERE id = $5",
        )
        .bind(change.role.as_str())
        .bind(deputy.map(|d| d.0.as_str()))
        .bind(unit.map(|u| u.0.as_str()))
        .bind(change.disabled)
        .bind(user_id)
        .execute()
        .await?;
        conn.query("DELETE FROM user_scopes WHERE user_id = $1")
            .bind(user_id)
            .execute()
            .await?;
        for scope in &change.scopes {
            let (region, station) = match scope {
                Scope::Region(r) => (Some(r.0.as_str()), None),
                Scope::Station(s) => (None, Some(s.0.as_str())),
            };
            conn.query(
                "INSERT INTO user_scopes (user_id, region_id, station_id) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(region)
            .bind(station)
            .execute()
            .await?;
        }
        if change.disabled {
            conn.query(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .execute()
            .await?;
        }
        tx.commit().await
    }
}

/// A demo account (only with `--demo`; the passwords are public, in `--help`).
pub struct DemoAccount {
    pub username: &'static str,
    pub password: &'static str,
    pub display_name: &'static str,
    pub role: Role,
    pub deputy_id: Option<&'static str>,
    pub unit_id: Option<&'static str>,
    pub scopes: &'static [DemoScope],
}

pub enum DemoScope {
    Region(&'static str),
    Station(&'static str),
}

impl DemoScope {
    fn to_scope(&self) -> Scope {
        match self {
            DemoScope::Region(id) => Scope::Region((*id).into()),
            DemoScope::Station(id) => Scope::Station((*id).into()),
        }
    }
}

/// The account of what the server does by itself (the retention purge), made by migration
/// `0011_privacy_audit.sql`: disabled, and no password verifies against its hash.
pub const SYSTEM_USER_ID: &str = "system";

pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        username: "demo-office",
        password: "demo-office-2026",
        display_name: "示范区人大代表工作室",
        role: Role::OfficeStaff,
        deputy_id: None,
        unit_id: None,
        scopes: &[DemoScope::Region("region-demo-district")],
    },
    DemoAccount {
        username: "demo-station",
        password: "demo-station-2026",
        display_name: "幸福里联络站站长",
        role: Role::StationStaff,
        deputy_id: None,
        unit_id: None,
        scopes: &[DemoScope::Station("station-xingfuli")],
    },
    DemoAccount {
        username: "demo-deputy",
        password: "demo-deputy-2026",
        display_name: "张建国",
        role: Role::Deputy,
        deputy_id: Some("deputy-demo-zhang"),
        unit_id: None,
        scopes: &[DemoScope::Station("station-xingfuli")],
    },
    // A second deputy of 幸福里, to take turns with the first on the station's shared tablet.
    DemoAccount {
        username: "demo-deputy2",
        password: "demo-deputy2-2026",
        display_name: "李秀英",
        role: Role::Deputy,
        deputy_id: Some("deputy-demo-li"),
        unit_id: None,
        scopes: &[DemoScope::Station("station-xingfuli")],
    },
    // Handling units have no scope: they see what is referred to their unit.
    DemoAccount {
        username: "demo-unit",
        password: "demo-unit-2026",
        display_name: "区住房和城乡建设局",
        role: Role::HandlingUnit,
        deputy_id: None,
        unit_id: Some("unit-demo-housing"),
        scopes: &[],
    },
    DemoAccount {
        username: "demo-unit2",
        password: "demo-unit2-2026",
        display_name: "区城市管理局",
        role: Role::HandlingUnit,
        deputy_id: None,
        unit_id: Some("unit-demo-urban"),
        scopes: &[],
    },
];

/// Argon2 is deliberately slow: run it off the async workers.
pub(crate) async fn hash_blocking(passwords: &Passwords, password: &str) -> anyhow::Result<String> {
    let passwords = passwords.clone();
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || passwords.hash(&password)).await?
}

async fn insert_user(conn: &mut Conn<'_>, user: &NewUser) -> Result<Option<String>, sqlx::Error> {
    let id = new_id().map_err(|err| sqlx::Error::Protocol(err.to_string()))?;
    let username = normalize_username(&user.username);
    let inserted = conn
        .query(
            "INSERT INTO users (id, username, display_name, role, deputy_id, unit_id, \
                                password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (username) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(username.as_str())
        .bind(user.display_name.as_str())
        .bind(user.role.as_str())
        .bind(user.deputy_id.as_ref().map(|d| d.0.as_str()))
        .bind(user.unit_id.as_ref().map(|u| u.0.as_str()))
        .bind(user.password_hash.as_str())
        .bind(now_ms())
        .execute()
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    for scope in &user.scopes {
        let (region, station) = match scope {
            Scope::Region(r) => (Some(r.0.as_str()), None),
            Scope::Station(s) => (None, Some(s.0.as_str())),
        };
        conn.query("INSERT INTO user_scopes (user_id, region_id, station_id) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(region)
            .bind(station)
            .execute()
            .await?;
    }
    Ok(Some(id))
}

async fn scopes(conn: &mut Conn<'_>, user_id: &str) -> Result<Vec<Scope>, sqlx::Error> {
    conn.query("SELECT region_id, station_id FROM user_scopes WHERE user_id = $1 ORDER BY id")
        .bind(user_id)
        .fetch_all()
        .await?
        .iter()
        .filter_map(|row| scope_from_row(row).transpose())
        .collect()
}

/// The scope of a row with `region_id` and `station_id` (`None`: neither, or both).
fn scope_from_row(row: &Row) -> Result<Option<Scope>, sqlx::Error> {
    let region: Option<String> = row.try_get("region_id")?;
    let station: Option<String> = row.try_get("station_id")?;
    Ok(match (region, station) {
        (Some(r), None) => Some(Scope::Region(RegionId(r))),
        (None, Some(s)) => Some(Scope::Station(StationId(s))),
        _ => None,
    })
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|error| error.is_unique_violation())
}
