// CryptoMonitor's service worker, served from /sw.js (scope "/"): shows Web
// Push notifications and opens the alert's page when one is clicked. The
// payload is JSON (notifications.push.message): title, body, url, tag, icon.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function parse(data) {
  if (!data) return {};
  try {
    return data.json();
  } catch (error) {
    return { body: data.text() };
  }
}

// Where a click goes: the payload's site-relative URL, on this origin only.
function targetUrl(url) {
  const target = new URL(url || "/", self.location.origin);
  return target.origin === self.location.origin ? target.href : self.location.origin + "/";
}

self.addEventListener("push", (event) => {
  const message = parse(event.data);
  const title = message.title || "CryptoMonitor";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: message.body || "",
      // A retried delivery carries the same tag: it replaces, never doubles.
      tag: message.tag || undefined,
      icon: message.icon || undefined,
      data: { url: targetUrl(message.url) },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || targetUrl("/");
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if (client.url === url && "focus" in client) return client.focus();
      }
      return self.clients.openWindow(url);
    }),
  );
});
