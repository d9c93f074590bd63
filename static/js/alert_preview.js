// The alert form's preview: how often the alert being written would have
// fired over the coin's stored history (POST /api/v1/alerts/preview/, the
// live rules replayed; docs/alerts.md). 400 ms after the last change the
// form's fields go to the API (the request before is aborted); its answer,
// or its errors, fill the section beside the form, which keeps working
// whatever happens here. Nothing is saved.
(function () {
  "use strict";

  var DEBOUNCE_MS = 400;
  // Not what the alert would have done: where it notifies, its note, and
  // its expiry (in the future, so it cannot cut the past; the form reads it
  // in the account's zone, the API in UTC).
  var LEFT_OUT = ["csrfmiddlewaretoken", "confirm_immediate", "channels", "note", "expires_at"];
  var NS = "http://www.w3.org/2000/svg";

  // A replayed price in the alert's currency, as the API gives it: 27900 EUR.
  function priced(price, currency) {
    return price + (currency ? " " + currency.toUpperCase() : "");
  }

  function start() {
    var form = document.querySelector("form.alert-form");
    var section = document.getElementById("alert-preview");
    if (!form || !section || !window.fetch || !window.AbortController) return;
    section.hidden = false;
    var part = function (name) {
      return section.querySelector("[data-preview-" + name + "]");
    };
    var zone = section.dataset.timeZone || "UTC";
    var timeFormat = new Intl.DateTimeFormat(undefined, {
      timeZone: zone,
      dateStyle: "medium",
      timeStyle: "short",
    });
    var timer = null;
    var inFlight = null;

    function body() {
      var data = {};
      new FormData(form).forEach(function (value, name) {
        if (LEFT_OUT.indexOf(name) < 0 && value !== "") data[name] = value;
      });
      return data;
    }

    function status(text) {
      part("status").textContent = text;
    }

    function labelOf(name) {
      var label = form.querySelector('label[for="id_' + name + '"]');
      return label ? label.textContent.trim().replace(/:$/, "") : name;
    }

    function showErrors(fields, message) {
      var box = part("errors");
      box.textContent = "";
      var lines = [];
      Object.keys(fields || {}).forEach(function (name) {
        var prefix = name === "non_field_errors" ? "" : labelOf(name) + ": ";
        fields[name].forEach(function (text) {
          lines.push(prefix + text);
        });
      });
      if (!lines.length && message) lines.push(message);
      lines.forEach(function (text) {
        var p = document.createElement("p");
        p.textContent = text;
        box.appendChild(p);
      });
      box.hidden = !lines.length;
    }

    function svg(name, attributes) {
      var element = document.createElementNS(NS, name);
      Object.keys(attributes).forEach(function (key) {
        element.setAttribute(key, attributes[key]);
      });
      return element;
    }

    // The closes as a line, each listed firing as a dot on it.
    function drawChart(points, firings, currency) {
      var chart = part("chart");
      while (chart.lastChild && chart.lastChild.tagName !== "title") {
        chart.removeChild(chart.lastChild);
      }
      var all = points.concat(firings);
      if (points.length < 2) return;
      // As wide as it is drawn, so the dots stay round.
      var width = Math.max(200, Math.round(chart.getBoundingClientRect().width) || 600);
      chart.setAttribute("viewBox", "0 0 " + width + " 160");
      var times = all.map(function (p) { return Date.parse(p.time); });
      var prices = all.map(function (p) { return parseFloat(p.price); });
      var t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
      var p0 = Math.min.apply(null, prices), p1 = Math.max.apply(null, prices);
      var x = function (t) { return 4 + ((t - t0) / (t1 - t0 || 1)) * (width - 8); };
      var y = function (p) { return 152 - ((p - p0) / (p1 - p0 || 1)) * 144; };
      var line = points.map(function (p) {
        return x(Date.parse(p.time)).toFixed(1) + "," + y(parseFloat(p.price)).toFixed(1);
      });
      chart.appendChild(svg("polyline", {
        points: line.join(" "), fill: "none", stroke: "#1d5fd1", "stroke-width": "1.5",
      }));
      firings.forEach(function (f) {
        var dot = svg("circle", {
          cx: x(Date.parse(f.time)).toFixed(1), cy: y(parseFloat(f.price)).toFixed(1), r: "4",
          fill: "#c2410c", "data-firing": f.time,
        });
        var title = svg("title", {});
        title.textContent = "Fired at " + priced(f.price, currency) + ", " +
          timeFormat.format(new Date(f.time));
        dot.appendChild(title);
        chart.appendChild(dot);
      });
    }

    function replayedText(answer) {
      var kinds = {
        ticks: "every stored price",
        "1m+ticks": "minute closes, then every stored price",
        "1m": "minute closes",
      };
      return "Replayed " + kinds[answer.resolution] + " from " +
        timeFormat.format(new Date(answer.from)) + " to " + timeFormat.format(new Date(answer.to)) +
        " with the live rules: frequency, cooldown and re-arm.";
    }

    function show(answer) {
      showErrors(null);
      var note = part("note");
      note.textContent = answer.note;
      note.hidden = !answer.note;
      ["fired_24h", "fired_7d", "fired_30d"].forEach(function (key) {
        section.querySelector('[data-count="' + key + '"]').textContent = String(answer[key]);
      });
      var list = part("firings");
      list.textContent = "";
      answer.firings.forEach(function (f) {
        var item = document.createElement("li");
        var time = document.createElement("time");
        time.dateTime = f.time;
        time.textContent = timeFormat.format(new Date(f.time));
        item.appendChild(time);
        item.appendChild(document.createTextNode(" at " + priced(f.price, answer.currency)));
        list.appendChild(item);
      });
      if (!answer.firings.length) {
        var none = document.createElement("li");
        none.textContent = "It would not have fired.";
        list.appendChild(none);
      }
      drawChart(answer.chart, answer.firings, answer.currency);
      part("replayed").textContent = answer.from ? replayedText(answer) : "";
      part("result").hidden = !answer.from;
      var total = answer.fired_30d;
      status(answer.from ? "It would have fired " + total + (total === 1 ? " time." : " times.") : "");
    }

    async function refresh() {
      var data = body();
      if (!data.coin || !data.condition) {
        status("Choose a coin and a condition to replay the last 30 days.");
        return;
      }
      if (inFlight) inFlight.abort();
      var mine = (inFlight = new AbortController());
      section.dataset.state = "loading";
      status("Replaying the last 30 days…");
      var token = form.querySelector("[name=csrfmiddlewaretoken]");
      try {
        var response = await fetch(section.dataset.url, {
          method: "POST",
          credentials: "same-origin",
          signal: mine.signal,
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRFToken": token ? token.value : "",
          },
          body: JSON.stringify(data),
        });
        var answer = await response.json().catch(function () { return null; });
        if (mine !== inFlight) return;
        if (response.ok && answer) {
          show(answer);
          section.dataset.state = "ready";
          return;
        }
        var error = (answer && answer.error) || {};
        part("result").hidden = true;
        part("note").hidden = true;
        showErrors(error.fields, error.message || "The server answered HTTP " + response.status + ".");
        status(response.status === 400 ? "Fix these to see the preview." : "No preview just now.");
        section.dataset.state = "error";
      } catch (failure) {
        if (failure.name === "AbortError") return;
        showErrors(null, "The preview could not reach the server.");
        status("No preview just now.");
        section.dataset.state = "error";
      }
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(refresh, DEBOUNCE_MS);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    refresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
