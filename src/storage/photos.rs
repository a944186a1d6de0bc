//! Photos, stored as blobs (IndexedDB keeps binary data natively; no base64 blow-up). A photo
//! taken while typing belongs to the draft; saving the opinion moves it to the opinion in the
//! same transaction, and discarding the draft deletes it.
//!
//! Records are plain JS objects (`{id, owner, blob, mime, width, height, bytes}`), not serde
//! values, because a `Blob` has no serde form.

use super::{DraftKey, Result, StorageError, Store, stores};
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use js_sys::{Object, Reflect};
use liaison_domain::{OpinionId, PhotoId, PhotoRef};
use wasm_bindgen::{JsCast, JsValue};

/// Who a photo belongs to, stored as `draft:<key>` or `opinion:<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoOwner {
    Draft(DraftKey),
    Opinion(OpinionId),
}

impl PhotoOwner {
    fn key(&self) -> String {
        match self {
            PhotoOwner::Draft(key) => format!("draft:{}", key.as_str()),
            PhotoOwner::Opinion(id) => format!("opinion:{id}"),
        }
    }
}

/// A downscaled photo ready to be stored.
pub struct NewPhoto {
    pub id: PhotoId,
    pub blob: web_sys::Blob,
    pub width: u32,
    pub height: u32,
}

fn set(obj: &Object, key: &str, value: &JsValue) -> Result<()> {
    Reflect::set(obj, &JsValue::from_str(key), value).map_err(super::migrations::js_err)?;
    Ok(())
}

fn get(obj: &JsValue, key: &str) -> Result<JsValue> {
    Reflect::get(obj, &JsValue::from_str(key)).map_err(super::migrations::js_err)
}

impl Store {
    /// Stores a photo for a draft and returns the reference the draft keeps.
    pub async fn put_draft_photo(&self, draft: &DraftKey, photo: NewPhoto) -> Result<PhotoRef> {
        let reference = PhotoRef {
            id: photo.id,
            mime: photo.blob.type_(),
            width: photo.width,
            height: photo.height,
            bytes: photo.blob.size() as u32,
        };
        let record = Object::new();
        set(&record, "id", &JsValue::from_str(&photo.id.to_string()))?;
        set(
            &record,
            "owner",
            &JsValue::from_str(&PhotoOwner::Draft(draft.clone()).key()),
        )?;
        set(&record, "blob", &photo.blob)?;
        set(&record, "mime", &JsValue::from_str(&reference.mime))?;
        set(&record, "width", &JsValue::from(photo.width))?;
        set(&record, "height", &JsValue::from(photo.height))?;
        set(&record, "bytes", &JsValue::from(reference.bytes))?;
        let tx = self.write_tx(&[stores::PHOTOS])?;
        tx.object_store(stores::PHOTOS)?
            .put(JsValue::from(record))
            .primitive()?
            .await?;
        tx.commit().await?;
        Ok(reference)
    }

    /// The photo's bytes, for showing it (`URL.createObjectURL`) or uploading it.
    pub async fn photo_blob(&self, id: PhotoId) -> Result<Option<web_sys::Blob>> {
        let tx = self.read_tx(&[stores::PHOTOS])?;
        let store = tx.object_store(stores::PHOTOS)?;
        let record: Option<JsValue> = store.get(id.to_string()).primitive()?.await?;
        match record {
            None => Ok(None),
            Some(record) => get(&record, "blob")?
                .dyn_into::<web_sys::Blob>()
                .map(Some)
                .map_err(|_| StorageError::Corrupt(format!("photo {id} has no blob"))),
        }
    }

    /// Removes a photo from a draft (the deputy took it back).
    pub async fn delete_photo(&self, id: PhotoId) -> Result<()> {
        let tx = self.write_tx(&[stores::PHOTOS])?;
        tx.object_store(stores::PHOTOS)?
            .delete(id.to_string())
            .primitive()?
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Gives a stored photo a new owner, inside the caller's transaction.
pub(super) async fn set_owner(
    store: &ObjectStore<'_>,
    id: PhotoId,
    owner: &PhotoOwner,
) -> Result<()> {
    let record: Option<JsValue> = store.get(id.to_string()).primitive()?.await?;
    let Some(record) = record else {
        return Err(StorageError::Corrupt(format!("photo {id} is missing")));
    };
    set(
        record.unchecked_ref(),
        "owner",
        &JsValue::from_str(&owner.key()),
    )?;
    store.put(record).primitive()?.await?;
    Ok(())
}

/// Deletes every photo an owner has, inside the caller's transaction.
pub(super) async fn delete_owned_by(store: &ObjectStore<'_>, owner: &PhotoOwner) -> Result<()> {
    let index = store.index("by_owner")?;
    let keys: Vec<String> = index
        .get_all_keys()
        .with_query(owner.key())
        .primitive()?
        .await?
        .collect::<std::result::Result<_, _>>()?;
    for key in keys {
        store.delete(key).primitive()?.await?;
    }
    Ok(())
}
