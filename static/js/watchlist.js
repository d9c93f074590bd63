// Live coin search on the dashboard. Without JS the search form still works:
// it reloads the dashboard with ?q= and the server lists the results.
(function () {
  "use strict";

  const form = document.getElementById("coin-search-form");
  const input = document.getElementById("coin-search");
  const results = document.getElementById("coin-search-results");
  if (!form || !input || !results) return;

  const searchUrl = form.dataset.searchUrl;
  const addUrl = results.dataset.addUrl;
  const csrfToken = (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value || "";
  let timer = null;
  let request = 0;

  function watchForm(coin) {
    const addForm = document.createElement("form");
    addForm.method = "post";
    addForm.action = addUrl;
    for (const [name, value] of [["csrfmiddlewaretoken", csrfToken], ["coin", coin.id]]) {
      const field = document.createElement("input");
      field.type = "hidden";
      field.name = name;
      field.value = value;
      addForm.appendChild(field);
    }
    // An untracked coin is not polled yet: watching it starts tracking it.
    const verb = coin.tracked ? "Watch" : "Track";
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "secondary small";
    button.textContent = coin.tracked ? verb : verb + " " + coin.name;
    button.setAttribute("aria-label", verb + " " + coin.name + " (" + coin.id + ")");
    addForm.appendChild(button);
    return addForm;
  }

  function resultItem(coin) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    const name = document.createElement("strong");
    name.textContent = coin.name;
    const symbol = document.createElement("span");
    symbol.className = "symbol";
    symbol.textContent = " " + coin.symbol.toUpperCase() + " ";
    const id = document.createElement("code");
    id.textContent = coin.id;
    label.append(name, symbol, id);
    if (!coin.tracked) {
      const note = document.createElement("small");
      note.className = "muted";
      note.textContent = " not tracked yet";
      label.append(note);
    }
    item.append(label, watchForm(coin));
    return item;
  }

  function render(query, coins) {
    results.replaceChildren();
    if (!coins.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = "No coin matches “" + query + "”.";
      results.appendChild(none);
    }
    coins.forEach(function (coin) {
      results.appendChild(resultItem(coin));
    });
    results.hidden = false;
  }

  async function search(query) {
    const mine = ++request;
    try {
      const response = await fetch(searchUrl + "?q=" + encodeURIComponent(query), {
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(response.statusText);
      const body = await response.json();
      if (mine === request) render(query, body.results);
    } catch (error) {
      if (mine !== request) return;
      results.replaceChildren();
      const failed = document.createElement("li");
      failed.className = "muted";
      failed.textContent = "Search failed: " + error.message;
      results.appendChild(failed);
      results.hidden = false;
    }
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) {
      request++;
      results.replaceChildren();
      results.hidden = true;
      return;
    }
    timer = setTimeout(function () {
      search(query);
    }, 200);
  });
})();
