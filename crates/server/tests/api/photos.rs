//! The photo routes: upload of a pushed opinion's photo (digest checked, authorised by the
//! opinion's station, stored once per content, resend harmless), download only to those who may
//! read the station.

use super::accounts::app_with_accounts;
use super::sync::{NOW, client, count, create, opinion_id, valid_opinion};
use super::{TestApp, body_json};
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use liaison_domain::sync::{PROTOCOL_VERSION, PushRequest};
use liaison_domain::{OpinionId, PhotoId, PhotoRef};
use liaison_server::Settings;
use sha2::{Digest, Sha256};

fn photo_id(n: u8) -> PhotoId {
    PhotoId::new_v7(1_767_225_600_000, [n; 10])
}

/// Bytes standing in for a JPEG (the server does not decode images).
fn jpeg(n: u8) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend(std::iter::repeat_n(n, 50_000));
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl TestApp {
    async fn upload(
        &self,
        token: Option<&str>,
        photo: PhotoId,
        opinion: OpinionId,
        digest: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Response<Body> {
        let mut request = Request::builder()
            .method(Method::PUT)
            .uri(format!(
                "/api/v1/photos/{photo}?opinion={opinion}&sha256={digest}"
            ))
            .header(header::CONTENT_TYPE, content_type);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.request(request.body(Body::from(bytes)).unwrap()).await
    }

    async fn download(
        &self,
        token: Option<&str>,
        opinion: OpinionId,
        photo: PhotoId,
    ) -> Response<Body> {
        self.call(
            Method::GET,
            &format!("/api/v1/photos/{photo}?opinion={opinion}"),
            token,
            None,
        )
        .await
    }

    /// Pushes an opinion of `station` with the given photos as `token`.
    async fn push_opinion_with_photos(
        &self,
        token: &str,
        n: u8,
        station: &str,
        photos: &[(PhotoId, usize)],
    ) -> OpinionId {
        let id = opinion_id(n);
        let mut opinion = valid_opinion(id, station);
        opinion.photos = photos
            .iter()
            .map(|(photo, size)| PhotoRef {
                id: *photo,
                mime: "image/jpeg".into(),
                width: 1600,
                height: 1200,
                bytes: *size as u32,
            })
            .collect();
        let body = serde_json::to_value(PushRequest {
            protocol: PROTOCOL_VERSION,
            app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
            client_id: client(n),
            mutations: vec![create(client(n), 1, NOW, opinion)],
        })
        .unwrap();
        let response = self
            .call(Method::POST, "/api/v1/sync/push", Some(token), Some(body))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer = body_json(response).await;
        assert_eq!(answer["rejected"], serde_json::json!([]), "{answer}");
        id
    }
}

async fn bytes_of(response: Response<Body>) -> Vec<u8> {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

#[tokio::test]
async fn a_pushed_opinions_photo_is_uploaded_once_and_read_back_by_its_station_only() {
    let app = app_with_accounts().await;
    let deputy = app.token("deputy-zhang", None).await;
    let (first, second) = (photo_id(1), photo_id(2));
    let picture = jpeg(7);
    let digest = sha256(&picture);
    let opinion = app
        .push_opinion_with_photos(
            &deputy,
            1,
            "station-xingfuli",
            &[(first, picture.len()), (second, picture.len())],
        )
        .await;

    let created = app
        .upload(
            Some(&deputy),
            first,
            opinion,
            &digest,
            "image/jpeg",
            picture.clone(),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let answer = body_json(created).await;
    assert_eq!(answer["sha256"], digest.as_str());
    assert_eq!(answer["id"], first.to_string());
    // The answer to the first upload was lost; the resend changes nothing.
    let again = app
        .upload(
            Some(&deputy),
            first,
            opinion,
            &digest,
            "image/jpeg",
            picture.clone(),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    // The same picture attached twice is stored once.
    let twin = app
        .upload(
            Some(&deputy),
            second,
            opinion,
            &digest,
            "image/jpeg",
            picture.clone(),
        )
        .await;
    assert_eq!(twin.status(), StatusCode::CREATED);
    assert_eq!(count(&app.db, "photos").await, 2);
    assert_eq!(count(&app.db, "photo_blobs").await, 1);

    // The station's staff read it back, byte for byte.
    let staff = app.token("staff-xingfuli", None).await;
    let response = app.download(Some(&staff), opinion, first).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "image/jpeg",
        "served as what it is"
    );
    assert!(
        response.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert_eq!(bytes_of(response).await, picture);

    // Another station's staff, and nobody signed in, get nothing.
    let other = app.token("staff-heping", None).await;
    assert_eq!(
        app.download(Some(&other), opinion, first).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.download(None, opinion, first).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.download(Some(&staff), opinion, photo_id(99))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let not_an_id = format!("/api/v1/photos/not-an-id?opinion={opinion}");
    assert_eq!(
        app.call(Method::GET, &not_an_id, Some(&staff), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Without the opinion it is not a request for a photo at all.
    let without_opinion = format!("/api/v1/photos/{first}");
    assert_eq!(
        app.call(Method::GET, &without_opinion, Some(&staff), None)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_and_store_nothing() {
    let app = app_with_accounts().await;
    let deputy = app.token("deputy-zhang", None).await;
    let photo = photo_id(1);
    let picture = jpeg(3);
    let digest = sha256(&picture);
    let opinion = app
        .push_opinion_with_photos(&deputy, 1, "station-xingfuli", &[(photo, picture.len())])
        .await;

    // Cut off on the way: the digest does not match.
    let cut = picture[..picture.len() / 2].to_vec();
    let response = app
        .upload(Some(&deputy), photo, opinion, &digest, "image/jpeg", cut)
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body_json(response).await["error"]["code"],
        "digest_mismatch"
    );
    // Not an image type.
    let response = app
        .upload(
            Some(&deputy),
            photo,
            opinion,
            &digest,
            "text/html",
            picture.clone(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Empty.
    let response = app
        .upload(
            Some(&deputy),
            photo,
            opinion,
            &sha256(&[]),
            "image/jpeg",
            vec![],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A photo the opinion does not list, and an opinion the server does not have.
    let response = app
        .upload(
            Some(&deputy),
            photo_id(9),
            opinion,
            &digest,
            "image/jpeg",
            picture.clone(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .upload(
            Some(&deputy),
            photo,
            opinion_id(77),
            &digest,
            "image/jpeg",
            picture.clone(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Not signed in.
    let response = app
        .upload(None, photo, opinion, &digest, "image/jpeg", picture.clone())
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Another station's staff may not add photos to this station's opinion.
    let other = app.token("staff-heping", None).await;
    let response = app
        .upload(
            Some(&other),
            photo,
            opinion,
            &digest,
            "image/jpeg",
            picture.clone(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Over the body limit.
    let huge = vec![0u8; 2 * 1024 * 1024];
    let response = app
        .upload(
            Some(&deputy),
            photo,
            opinion,
            &sha256(&huge),
            "image/jpeg",
            huge,
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(count(&app.db, "photos").await, 0);
    assert_eq!(count(&app.db, "photo_blobs").await, 0);

    // Then the real one goes through, and the id cannot be given other content later.
    let response = app
        .upload(
            Some(&deputy),
            photo,
            opinion,
            &digest,
            "image/jpeg",
            picture,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let other_picture = jpeg(4);
    let response = app
        .upload(
            Some(&deputy),
            photo,
            opinion,
            &sha256(&other_picture),
            "image/jpeg",
            other_picture,
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body_json(response).await["error"]["code"], "photo_conflict");
    assert_eq!(count(&app.db, "photo_blobs").await, 1);
}

#[tokio::test]
async fn a_photo_id_listed_by_another_stations_opinion_cannot_be_taken_over() {
    let app = app_with_accounts().await;
    let deputy = app.token("deputy-zhang", None).await;
    let other = app.token("staff-heping", None).await;
    let photo = photo_id(1);
    let real = jpeg(1);
    let junk = jpeg(2);
    // 幸福里's opinion lists the photo; before its tablet uploads it, someone at 和平 pushes an
    // opinion listing the same photo id and uploads junk under it.
    let theirs = app
        .push_opinion_with_photos(&deputy, 1, "station-xingfuli", &[(photo, real.len())])
        .await;
    let squatter = app
        .push_opinion_with_photos(&other, 2, "station-heping", &[(photo, junk.len())])
        .await;
    let response = app
        .upload(
            Some(&other),
            photo,
            squatter,
            &sha256(&junk),
            "image/jpeg",
            junk.clone(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // The real upload still goes through, and each opinion serves its own picture.
    let response = app
        .upload(
            Some(&deputy),
            photo,
            theirs,
            &sha256(&real),
            "image/jpeg",
            real.clone(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let staff = app.token("staff-xingfuli", None).await;
    assert_eq!(
        bytes_of(app.download(Some(&staff), theirs, photo).await).await,
        real
    );
    // 幸福里's staff cannot read 和平's, whatever id it uses.
    assert_eq!(
        app.download(Some(&staff), squatter, photo).await.status(),
        StatusCode::NOT_FOUND
    );
}
