// "Enable push on this browser" on the notification settings page: register
// the service worker (/sw.js), ask for permission, subscribe with our VAPID
// key and save the subscription (notifications.push_views.subscribe).
(function () {
  "use strict";

  const section = document.getElementById("push-section");
  const button = document.getElementById("push-enable");
  const status = document.getElementById("push-status");
  if (!section || !button || !status) return;

  function say(text) {
    status.textContent = text;
  }

  function keyBytes(base64url) {
    const padded = base64url + "=".repeat((4 - (base64url.length % 4)) % 4);
    const raw = atob(padded.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    button.disabled = true;
    say(window.isSecureContext
      ? "This browser does not support push notifications."
      : "Push needs a secure page: HTTPS, or http://localhost.");
    return;
  }

  async function enable() {
    button.disabled = true;
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        say("Notifications are blocked for this site: allow them in the browser's settings.");
        return;
      }
      say("Subscribing…");
      const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
      await navigator.serviceWorker.ready;
      const key = keyBytes(section.dataset.vapidKey);
      let subscription = await registration.pushManager.getSubscription();
      if (subscription) {
        const current = new Uint8Array(subscription.options.applicationServerKey || []);
        if (current.join() !== key.join()) {
          await subscription.unsubscribe();  // made with another server key
          subscription = null;
        }
      }
      if (!subscription) {
        subscription = await registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: key,
        });
      }
      const response = await fetch(section.dataset.subscribeUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": section.dataset.csrf },
        body: JSON.stringify(subscription.toJSON()),
      });
      const answer = await response.json();
      if (!response.ok) {
        say((answer.errors || ["The subscription was refused."]).join(" "));
        return;
      }
      window.location.reload();
    } catch (error) {
      say("Could not enable push: " + error.message);
    } finally {
      button.disabled = false;
    }
  }

  // Mark the row of this browser's subscription, if the list has it.
  async function markThisBrowser() {
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = registration && (await registration.pushManager.getSubscription());
    if (!subscription) return;
    for (const row of document.querySelectorAll("#push-subscriptions tr[data-endpoint]")) {
      if (row.dataset.endpoint === subscription.endpoint) {
        row.querySelector(".this-browser").hidden = false;
        say("Push is on for this browser.");
      }
    }
  }

  button.addEventListener("click", enable);
  markThisBrowser().catch(() => {});
})();
