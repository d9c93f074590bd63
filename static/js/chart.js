// The coin page's price chart: history from /coins/<id>/history.json, live
// points from live.js's "cm:prices" / "cm:snapshot" events.
//
// The chart is in the page's currency (data-currency): the history comes
// converted by the server, live points (in the base) are converted by live.js,
// and a click opens the alert form with the price back in the base, which is
// what alerts take.
(function () {
  "use strict";

  const container = document.getElementById("price-chart");
  if (!container || !window.LightweightCharts) return;

  const coinId = container.dataset.coin;
  const historyUrl = container.dataset.historyUrl;
  const chartCurrency = container.dataset.currency || "";
  const live = window.CryptoMonitorLive;
  // The page's rate converts live points when the chart is in its currency.
  const converts = Boolean(live && live.toDisplay && chartCurrency === live.display());
  const status = document.getElementById("chart-status");
  const buttons = Array.from(document.querySelectorAll(".range-button"));
  const LC = window.LightweightCharts;

  const chart = LC.createChart(container, {
    autoSize: true,
    // The logo would inject a <style> element, which our CSP refuses: the
    // page credits TradingView in its own markup instead (coin_detail.html).
    layout: {
      background: { color: "transparent" },
      textColor: "#373c44",
      attributionLogo: false,
    },
    grid: { vertLines: { color: "#eef0f3" }, horzLines: { color: "#eef0f3" } },
    // Seconds on the marks that fall within a minute (polls seconds apart,
    // as a new install's first): without them those marks all read "05:56".
    // Marks a minute or more apart still read hours and minutes.
    timeScale: { timeVisible: true, secondsVisible: true },
    rightPriceScale: { borderVisible: false },
  });
  const series = chart.addSeries(LC.AreaSeries, {
    lineColor: "#1d5fd1",
    topColor: "rgba(29, 95, 209, 0.28)",
    bottomColor: "rgba(29, 95, 209, 0.02)",
    lineWidth: 2,
  });

  let lastTime = 0;
  let request = 0;
  // The range the reader chose last; a reconnect reloads it.
  let chosenRange = container.dataset.range || "24h";

  function setStatus(text) {
    status.textContent = text;
  }

  // Cents for coins above 1, four significant digits for sub-cent coins.
  function priceFormat(value) {
    const magnitude = Math.floor(Math.log10(Math.abs(value) || 1));
    const precision = value >= 1 ? 2 : Math.min(12, 3 - magnitude);
    return { type: "price", precision: precision, minMove: Math.pow(10, -precision) };
  }

  // The chart needs strictly ascending times: keep the last price of each second.
  function toSeries(points) {
    const data = [];
    for (const [time, price] of points) {
      const value = parseFloat(price);
      if (data.length && data[data.length - 1].time === time) {
        data[data.length - 1].value = value;
      } else if (!data.length || time > data[data.length - 1].time) {
        data.push({ time: time, value: value });
      }
    }
    return data;
  }

  // The history, or an Error saying plainly what went wrong: an error page
  // from a proxy (HTML, 502) is not JSON, so check the status before parsing.
  async function fetchHistory(rangeKey) {
    let response;
    try {
      const query = new URLSearchParams({ range: rangeKey });
      if (chartCurrency) query.set("currency", chartCurrency);
      response = await fetch(historyUrl + "?" + query.toString(), {
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      throw new Error("the server could not be reached.");
    }
    const isJson = (response.headers.get("Content-Type") || "").includes("application/json");
    const body = isJson ? await response.json().catch(function () { return null; }) : null;
    if (!response.ok) {
      throw new Error((body && body.error) || "the server answered HTTP " + response.status + ".");
    }
    if (!body || !Array.isArray(body.points)) {
      throw new Error("the server sent something that is not price history.");
    }
    return body;
  }

  async function load(rangeKey) {
    const mine = ++request;
    chosenRange = rangeKey;
    container.dataset.state = "loading";
    setStatus("Loading " + rangeKey + " chart…");
    buttons.forEach(function (button) {
      const active = button.dataset.range === rangeKey;
      button.setAttribute("aria-pressed", active ? "true" : "false");
      button.classList.toggle("outline", !active);
    });
    try {
      const body = await fetchHistory(rangeKey);
      if (mine !== request) return; // A newer range was chosen meanwhile.
      const data = toSeries(body.points);
      if (data.length) series.applyOptions({ priceFormat: priceFormat(data[data.length - 1].value) });
      series.setData(data);
      chart.timeScale().fitContent();
      lastTime = data.length ? data[data.length - 1].time : 0;
      container.dataset.range = rangeKey;
      container.dataset.points = String(data.length);
      container.dataset.state = "ready";
      setStatus(data.length ? "" : "No price history for this range yet.");
    } catch (error) {
      if (mine !== request) return;
      container.dataset.state = "error";
      setStatus("Could not load the chart: " + error.message);
    }
  }

  function appendLive(event) {
    if (container.dataset.state !== "ready") return;
    for (const coin of (event.detail && event.detail.coins) || []) {
      if (coin.id !== coinId || coin.price == null || !coin.updated_at) continue;
      const time = Math.floor(Date.parse(coin.updated_at) / 1000);
      if (!(time >= lastTime)) continue; // Older than what we show: skip.
      const value = converts ? live.toDisplay(coin.price) : parseFloat(coin.price);
      if (value === null || !isFinite(value)) continue;
      series.update({ time: time, value: value });
      if (time > lastTime) {
        container.dataset.points = String(Number(container.dataset.points || 0) + 1);
      }
      lastTime = time;
    }
  }

  // The user's active alerts on this coin, as horizontal lines (the page's
  // JSON script tag: empty for anonymous visitors).
  function drawAlertLines() {
    const source = document.getElementById("alert-price-lines");
    let lines = [];
    try {
      lines = source ? JSON.parse(source.textContent) : [];
    } catch (error) {
      lines = [];
    }
    let drawn = 0;
    for (const line of Array.isArray(lines) ? lines : []) {
      const price = parseFloat(line.price);
      if (!isFinite(price)) continue;
      series.createPriceLine({
        price: price,
        color: "#c2410c",
        lineWidth: 1,
        lineStyle: LC.LineStyle.Dashed,
        axisLabelVisible: true,
        title: String(line.title || ""),
      });
      drawn += 1;
    }
    container.dataset.priceLines = String(drawn);
  }

  // The latest price drawn: a target over it means "above", else "below".
  function currentPrice() {
    const data = series.data();
    return data.length ? data[data.length - 1].value : null;
  }

  // A chart price in the base (alerts' currency): the same when the chart
  // is in the base, else divided by the page's rate.
  function toBase(price) {
    if (!converts || price === null) return price;
    const factor = live.toDisplay(1);
    return factor ? price / factor : null;
  }

  // A price as the alert form takes it: the precision a chart of `reference`
  // would have (the current price, in the same currency), no exponent.
  function targetText(price, reference) {
    const precision = priceFormat(reference || price).precision;
    const text = price.toFixed(Math.min(precision, 14));
    return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  }

  // The new-alert form for this coin at a price (login first, if need be).
  function alertUrl(price) {
    const now = currentPrice();
    const query = new URLSearchParams({
      coin: coinId,
      condition: now !== null && price > now ? "above" : "below",
      target: targetText(toBase(price), toBase(now)),
    });
    return (container.dataset.alertUrl || "/alerts/new/") + "?" + query.toString();
  }

  function priceAt(point) {
    if (!point || container.dataset.state !== "ready") return null;
    const price = series.coordinateToPrice(point.y);
    return price !== null && isFinite(price) && price > 0 ? price : null;
  }

  // "+ alert at <price>" follows the crosshair; a click opens the form.
  const tag = document.createElement("div");
  tag.className = "chart-alert-tag";
  tag.hidden = true;
  container.appendChild(tag);
  chart.subscribeCrosshairMove(function (param) {
    const price = priceAt(param.point);
    tag.hidden = price === null;
    if (price === null) return;
    tag.textContent = "+ alert at " + targetText(price, currentPrice());
    tag.style.top = Math.max(0, param.point.y - 12) + "px";
  });
  chart.subscribeClick(function (param) {
    const price = priceAt(param.point);
    if (price !== null) window.location.assign(alertUrl(price));
  });
  drawAlertLines();

  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      load(button.dataset.range);
    });
  });
  document.addEventListener("cm:prices", appendLive);
  // A snapshot after the first means live.js reconnected: ticks may have
  // been missed meanwhile, so reload the range instead of drawing a gap.
  let snapshots = 0;
  document.addEventListener("cm:snapshot", function (event) {
    snapshots += 1;
    // The range last chosen, even if its load has not finished yet.
    if (snapshots > 1) load(chosenRange);
    else appendLive(event);
  });
  load(chosenRange);
})();
