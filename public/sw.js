// The offline app shell. `cargo xtask precache` (a trunk post_build hook) replaces the two
// placeholders below with the build's file list and a hash of its contents, so every build has
// a byte-different worker and the browser notices updates.
//
// - install: cache every file of this build under a cache named after the build.
// - The new worker waits (no skipWaiting) until the app asks it to take over ("update" button);
//   a deputy in the middle of typing is never reloaded under their fingers.
// - activate: delete the caches of older builds.
// - fetch: the app's files come from the cache (hashed names never change content); page
//   navigations get this build's index.html; /api/ always goes to the network.
'use strict';

const BUILD_ID = '__BUILD_ID__';
const PRECACHE = self.__PRECACHE_MANIFEST__;
const CACHE = 'liaison-shell-' + BUILD_ID;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })))
    )
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith('liaison-shell-') && name !== CACHE)
            .map((name) => caches.delete(name))
        )
      )
      .then(() => self.clients.claim())
  );
});

self.addEventListener('message', (event) => {
  if (event.data === 'SKIP_WAITING') {
    self.skipWaiting();
  }
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;

  if (request.mode === 'navigate') {
    event.respondWith(
      caches
        .open(CACHE)
        .then((cache) => cache.match('/index.html'))
        .then((cached) => cached || fetch(request))
    );
    return;
  }
  event.respondWith(
    caches.open(CACHE).then((cache) =>
      cache.match(request).then((cached) => cached || fetch(request))
    )
  );
});
