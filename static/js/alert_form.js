// The alert form: shows only the fields the chosen condition uses, and adds
// presets for the target and the range (± 1, 5, 10 % of the coin's price)
// and the expiry (1 hour, 1 day, 1 week from now, typed in the account's time
// zone).
//
// Prices are in the alert's currency (the currency select): the labels name
// it, and a preset is the coin's price (data-price, in the base) times that
// currency's rate (#alert-currency-rates, usable rates only); without a
// usable rate the presets are disabled and say why.
//
// Without this script every field shows and none of them is lost: the server
// validates the same fields either way (docs/alerts.md). A field hidden for
// the condition is also disabled, so a stale value in it (say, the percent
// of a movement alert being turned into a price alert) is not posted.
(function () {
  "use strict";

  var TARGET_PRESETS = [-10, -5, -1, 1, 5, 10];
  var EXPIRY_PRESETS = [
    ["In 1 hour", 3600e3],
    ["In 1 day", 86400e3],
    ["In 1 week", 7 * 86400e3],
  ];

  function box(form, name) {
    return form.querySelector('[data-form-field="' + name + '"]');
  }

  function words(element, attribute) {
    return (element.getAttribute(attribute) || "").split(/\s+/).filter(Boolean);
  }

  // Hide a field's box and disable its inputs, unless it shows an error.
  function show(field, visible, disable) {
    if (!field) return;
    var keep = visible || field.hasAttribute("data-has-errors");
    field.hidden = !keep;
    if (!disable) return;
    field.querySelectorAll("input, select, textarea").forEach(function (input) {
      input.disabled = !keep;
    });
  }

  function toggle(form) {
    var condition = form.querySelector('[name="condition"]');
    var frequency = form.querySelector('[name="frequency"]');
    if (condition) {
      var chosen = condition.value;
      var uses = function (kind) {
        // No condition chosen yet: nothing to hide.
        return !chosen || words(condition, "data-" + kind + "-conditions").indexOf(chosen) >= 0;
      };
      show(box(form, "target"), uses("price"), true);
      show(box(form, "threshold"), uses("metric"), true);
      show(box(form, "range_low"), uses("range"), true);
      show(box(form, "range_high"), uses("range"), true);
      show(box(form, "percent"), uses("movement") || uses("step"), true);
      show(box(form, "window"), uses("movement"), true);
    }
    if (frequency) {
      // Posted either way: the field is required, and ignored for "once".
      show(box(form, "cooldown_seconds"), frequency.value === "every_time", false);
    }
  }

  function button(text, onClick) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = "secondary outline small";
    element.textContent = text;
    element.addEventListener("click", onClick);
    return element;
  }

  function presets(label) {
    var group = document.createElement("div");
    group.className = "form-presets";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", label);
    return group;
  }

  function selectedPrice(form) {
    var coin = form.querySelector('[name="coin"]');
    var option = coin && coin.selectedOptions && coin.selectedOptions[0];
    var price = option ? Number(option.dataset.price) : NaN;
    return price > 0 ? price : null;
  }

  function readRates() {
    var script = document.getElementById("alert-currency-rates");
    try {
      return (script && JSON.parse(script.textContent)) || {};
    } catch (error) {
      return {};
    }
  }

  var RATES = {};

  // The chosen currency's code ("" when the form has no currency select).
  function chosenCurrency(form) {
    var select = form.querySelector('[name="currency"]');
    return select ? select.value : "";
  }

  // The chosen currency's factor from the base; null without a usable rate.
  function chosenFactor(form) {
    var code = chosenCurrency(form);
    if (!code) return 1;
    var factor = Number(RATES[code]);
    return factor > 0 ? factor : null;
  }

  // Name the chosen currency in the price fields' labels and help texts.
  function nameCurrency(form) {
    var code = chosenCurrency(form).toUpperCase();
    if (!code) return;
    ["target", "range_low", "range_high"].forEach(function (name) {
      var label = form.querySelector('label[for="id_' + name + '"]');
      if (!label) return;
      label.textContent = label.textContent.replace(/\([^()]*\)\s*$/, "(" + code + ")");
    });
    form.querySelectorAll("[data-currency-code]").forEach(function (element) {
      element.textContent = code;
    });
    showConvertedPrice(form);
  }

  // Beside the coin's price (in the base) above the form: that price in the
  // chosen currency, when it is another one with a usable rate.
  function showConvertedPrice(form) {
    var shown = document.querySelector("[data-price-in-currency]");
    var live = window.CryptoMonitorLive;
    if (!shown || !live) return;
    var code = chosenCurrency(form);
    var factor = chosenFactor(form);
    var price = Number(shown.dataset.base);
    var base = (shown.dataset.baseCurrency || "").toLowerCase();
    var other = code && code !== base && factor !== null && price > 0;
    shown.hidden = !other;
    shown.textContent = other ? ", " + live.formatPrice(price * factor, code) : "";
  }

  // Six significant digits, at least two decimals, at most the 14 the
  // target takes; a plain number (never 1e-7), as the server reads it.
  function plainPrice(value) {
    var magnitude = Math.floor(Math.log10(value));
    var decimals = Math.min(14, Math.max(2, 5 - magnitude));
    var text = value.toFixed(decimals);
    return text.indexOf(".") >= 0 ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  }

  // Presets for a price field (the target, the range's bounds).
  function addPricePresets(form, name) {
    var field = box(form, name);
    var input = field && field.querySelector("input");
    if (!input) return;
    var group = presets("Set from the price now");
    TARGET_PRESETS.forEach(function (percent) {
      var text = (percent > 0 ? "+" : "−") + Math.abs(percent) + " %";
      group.appendChild(
        button(text, function () {
          var price = selectedPrice(form);
          var factor = chosenFactor(form);
          if (price === null || factor === null) return;
          input.value = plainPrice(price * factor * (1 + percent / 100));
          input.dispatchEvent(new Event("input", { bubbles: true }));
        })
      );
    });
    input.insertAdjacentElement("afterend", group);
    var coin = form.querySelector('[name="coin"]');
    var currency = form.querySelector('[name="currency"]');
    function enable() {
      var priced = selectedPrice(form) !== null;
      var converted = chosenFactor(form) !== null;
      group.querySelectorAll("button").forEach(function (preset) {
        preset.disabled = !priced || !converted;
      });
      var code = chosenCurrency(form).toUpperCase();
      group.title = !priced
        ? "Choose a coin with a price first"
        : !converted
          ? "No up-to-date " + code + " exchange rate now: type the price in " + code +
            " yourself, or choose another currency"
          : "";
    }
    if (coin) coin.addEventListener("change", enable);
    if (currency) currency.addEventListener("change", enable);
    enable();
  }

  // "2026-12-07T15:04" for `date` in `zone`, as a datetime-local input wants.
  function localInputValue(date, zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-CA", {
      timeZone: zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(date)
      .forEach(function (part) {
        parts[part.type] = part.value;
      });
    return (
      parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute
    );
  }

  function addExpiryPresets(form) {
    var field = box(form, "expires_at");
    var input = field && field.querySelector("input");
    if (!input) return;
    var zone = input.dataset.timeZone || "UTC";
    var group = presets("Expiry from now");
    EXPIRY_PRESETS.forEach(function (preset) {
      group.appendChild(
        button(preset[0], function () {
          input.value = localInputValue(new Date(Date.now() + preset[1]), zone);
        })
      );
    });
    input.insertAdjacentElement("afterend", group);
  }

  // Keep each coin's price current for the presets (live.js's batches).
  function followPrices(form) {
    function update(event) {
      var coins = (event.detail && event.detail.coins) || [];
      coins.forEach(function (coin) {
        var option = form.querySelector(
          '[name="coin"] option[value="' + CSS.escape(coin.id) + '"]'
        );
        if (option && coin.price !== null && coin.price !== undefined) {
          option.dataset.price = String(coin.price);
        }
      });
    }
    document.addEventListener("cm:prices", update);
    document.addEventListener("cm:snapshot", update);
  }

  function start() {
    var form = document.querySelector("form.alert-form");
    if (!form) return;
    RATES = readRates();
    ["target", "range_low", "range_high"].forEach(function (name) {
      addPricePresets(form, name);
    });
    addExpiryPresets(form);
    followPrices(form);
    form.addEventListener("change", function (event) {
      var name = event.target.name;
      if (name === "condition" || name === "frequency") toggle(form);
      if (name === "currency") nameCurrency(form);
    });
    toggle(form);
    nameCurrency(form);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
