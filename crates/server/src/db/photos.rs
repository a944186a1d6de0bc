//! Photo storage (tables from `migrations/*/0006_photos.sql` and `0007`): the bytes once per
//! content (`photo_blobs`, by SHA-256), and each opinion's photos with their content and station
//! (`photos`, keyed by opinion and photo id).

use super::Db;
use super::backend::Begin;
use liaison_domain::sync::OpinionReplica;
use liaison_domain::{OpinionId, PhotoId, StationId};

/// A photo as the server keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPhoto {
    pub station_id: StationId,
    pub sha256: String,
    pub mime: String,
}

/// A photo to store.
pub struct NewPhoto<'a> {
    pub id: PhotoId,
    pub opinion_id: OpinionId,
    pub station_id: &'a StationId,
    pub sha256: &'a str,
    pub mime: &'a str,
    pub bytes: &'a [u8],
    pub uploaded_by: &'a str,
    pub now_ms: i64,
}

/// What storing a photo did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoStored {
    /// Stored now.
    Created,
    /// The same id with the same content was there already (a resend): nothing changed.
    AlreadyThere,
    /// The id is taken by other content: refused, nothing changed.
    Conflict,
}

impl Db {
    /// The merged state of one opinion, if the server has it.
    pub async fn opinion_state(
        &self,
        id: OpinionId,
    ) -> Result<Option<OpinionReplica>, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let row = conn
            .query("SELECT state FROM opinions WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional()
            .await?;
        row.map(|row| {
            let state: String = row.try_get("state")?;
            serde_json::from_str(&state).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .transpose()
    }

    /// A stored photo of an opinion: its content and station.
    pub async fn photo(
        &self,
        opinion: OpinionId,
        id: PhotoId,
    ) -> Result<Option<StoredPhoto>, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let row = conn
            .query("SELECT station_id, sha256, mime FROM photos WHERE opinion_id = $1 AND id = $2")
            .bind(opinion.to_string())
            .bind(id.to_string())
            .fetch_optional()
            .await?;
        row.map(|row| {
            Ok(StoredPhoto {
                station_id: StationId(row.try_get("station_id")?),
                sha256: row.try_get("sha256")?,
                mime: row.try_get("mime")?,
            })
        })
        .transpose()
    }

    /// The bytes of a content.
    pub async fn photo_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        let mut conn = self.acquire().await?;
        conn.query("SELECT bytes FROM photo_blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional()
            .await?
            .map(|row| row.try_get("bytes"))
            .transpose()
    }

    /// Stores a photo of an opinion in one transaction: its bytes unless that content is stored
    /// already, and its reference unless the opinion has that photo already (then only the same
    /// content counts as stored).
    pub async fn put_photo(&self, photo: &NewPhoto<'_>) -> Result<PhotoStored, sqlx::Error> {
        // Reads, then writes: on SQLite the write lock is taken up front, so that a writer
        // committing in between cannot make the upgrade fail (`SQLITE_BUSY_SNAPSHOT`).
        let mut tx = self.pool.begin(Begin::ReadThenWrite).await?;
        let existing = tx
            .query("SELECT sha256 FROM photos WHERE opinion_id = $1 AND id = $2")
            .bind(photo.opinion_id.to_string())
            .bind(photo.id.to_string())
            .fetch_optional()
            .await?
            .map(|row| row.try_get::<String>("sha256"))
            .transpose()?;
        if let Some(sha256) = existing {
            return Ok(if sha256 == photo.sha256 {
                PhotoStored::AlreadyThere
            } else {
                PhotoStored::Conflict
            });
        }
        tx.query(
            "INSERT INTO photo_blobs (sha256, bytes, size) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(photo.sha256)
        .bind(photo.bytes)
        .bind(photo.bytes.len() as i64)
        .execute()
        .await?;
        // Two uploads of the same new photo at once (PostgreSQL, where the read above takes no
        // lock): the second insert finds the first's row and changes nothing; its content is
        // compared below.
        let inserted = tx
            .query(
                "INSERT INTO photos (id, opinion_id, station_id, sha256, mime, uploaded_by, \
                 uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (opinion_id, id) DO NOTHING",
            )
            .bind(photo.id.to_string())
            .bind(photo.opinion_id.to_string())
            .bind(photo.station_id.0.as_str())
            .bind(photo.sha256)
            .bind(photo.mime)
            .bind(photo.uploaded_by)
            .bind(photo.now_ms)
            .execute()
            .await?;
        let stored = if inserted == 1 {
            PhotoStored::Created
        } else {
            let winner: String = tx
                .query("SELECT sha256 FROM photos WHERE opinion_id = $1 AND id = $2")
                .bind(photo.opinion_id.to_string())
                .bind(photo.id.to_string())
                .fetch_one()
                .await?
                .try_get("sha256")?;
            if winner == photo.sha256 {
                PhotoStored::AlreadyThere
            } else {
                PhotoStored::Conflict
            }
        };
        tx.commit().await?;
        Ok(stored)
    }
}
