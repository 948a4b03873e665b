// The operator console. Every value from the API is put in the page as text (textContent), never as
// markup: numbers, reasons and message texts come from consumers and imports. The API key lives in
// this closure only; nothing writes it to the address, cookies or web storage.
(() => {
  "use strict";

  const SMALL_IMPORT_BYTES = 1000000; // POST /v1/blocklist/import's own limit
  let apiKey = null;

  const $ = (id) => document.getElementById(id);

  class ApiError extends Error {
    constructor(status, detail) {
      super(`${status}: ${detail}`);
      this.status = status;
    }
  }

  async function problemOf(response) {
    try {
      const document_ = await response.json();
      return new ApiError(response.status, document_.detail || document_.message || response.statusText);
    } catch (_) {
      return new ApiError(response.status, response.statusText);
    }
  }

  async function api(method, path, { query, body, raw, contentType } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { "x-api-key": apiKey };
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    } else if (raw !== undefined) {
      headers["Content-Type"] = contentType;
      payload = raw;
    }
    const response = await fetch(url, { method, headers, body: payload, credentials: "omit", cache: "no-store" });
    if (!response.ok) throw await problemOf(response);
    return response;
  }

  const getJson = async (path, options) => (await api("GET", path, options)).json();
  const phonePath = (phone) => encodeURIComponent(phone.trim());

  function show(id, message) {
    const element = $(id);
    element.textContent = message || "";
    element.hidden = !message;
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function clear(element) {
    while (element.firstChild) element.removeChild(element.firstChild);
  }

  // ------------------------------------------------------------------ key and sections

  function route() {
    const wanted = (window.location.hash || "#number").slice(1);
    for (const section of document.querySelectorAll("[data-section]")) {
      section.hidden = apiKey === null || section.id !== wanted;
    }
    $("key-form").hidden = apiKey !== null;
    $("who").hidden = apiKey === null;
  }

  $("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const candidate = $("api-key").value.trim();
    $("api-key").value = "";
    apiKey = candidate;
    try {
      await api("GET", "/v1/blocklist", { query: { limit: 1 } }); // a cheap call that needs the key
      show("key-error", "");
    } catch (error) {
      apiKey = null;
      show("key-error", error.status === 403 ? "That key was refused." : `The API did not accept it: ${error.message}`);
    }
    route();
  });

  $("forget").addEventListener("click", () => {
    apiKey = null;
    route();
  });

  window.addEventListener("hashchange", route);

  // ------------------------------------------------------------------ numbers

  let shownPhone = null;

  $("number-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const phone = $("number-phone").value;
    try {
      const number = await getJson(`/v1/numbers/${phonePath(phone)}`);
      const history = await getJson(`/v1/numbers/${phonePath(phone)}/history`);
      renderNumber(number, history.events);
      show("number-error", "");
    } catch (error) {
      $("number-result").hidden = true;
      show("number-error", error.message);
    }
  });

  function renderNumber(number, events) {
    shownPhone = number.phone;
    $("number-title").textContent = number.phone;
    const body = $("number-programs").tBodies[0];
    clear(body);
    for (const [program, state] of Object.entries(number.programs)) {
      const row = body.insertRow();
      cell(row, program);
      cell(row, state.status).className = `status-${state.status}`;
      cell(row, state.source);
      cell(row, state.updated_at);
    }
    const block = number.block;
    $("number-block").textContent = block
      ? `On the blocklist: type ${block.type} since ${block.added_at}${block.reason ? ` (${block.reason})` : ""}`
      : "Not on the blocklist.";
    const timeline = $("number-timeline");
    clear(timeline);
    for (const entry of events) {
      const item = document.createElement("li");
      const when = document.createElement("time");
      when.dateTime = entry.at;
      when.textContent = entry.at;
      const what = document.createElement("strong");
      what.textContent = ` ${entry.type}`;
      const detail = document.createElement("span");
      const change = `${entry.old_status || "-"} → ${entry.new_status || "-"}`;
      detail.textContent = ` ${entry.program || "(number)"}: ${change}, source ${entry.source}`;
      item.append(when, what, detail);
      if (entry.evidence && entry.evidence.text) {
        const text = document.createElement("q");
        text.textContent = entry.evidence.text;
        item.append(" ", text);
      }
      timeline.appendChild(item);
    }
    $("number-result").hidden = false;
  }

  $("number-proof").addEventListener("click", async () => {
    try {
      const page = await (await api("GET", `/v1/numbers/${phonePath(shownPhone)}/proof`, { query: { format: "html" } })).blob();
      window.open(URL.createObjectURL(page), "_blank", "noopener");
    } catch (error) {
      show("number-error", error.message);
    }
  });

  // ------------------------------------------------------------------ blocklist

  async function search() {
    const query = {
      phone_prefix: $("search-prefix").value.trim(),
      type: $("search-type").value,
      text: $("search-text").value.trim(),
      limit: 100,
    };
    const page = await getJson("/v1/blocklist", { query });
    const body = $("blocklist-table").tBodies[0];
    clear(body);
    for (const entry of page.items) {
      const row = body.insertRow();
      cell(row, entry.phone);
      cell(row, entry.type);
      cell(row, entry.added_at);
      cell(row, entry.reason);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove ${entry.phone}`);
      remove.addEventListener("click", () => guarded(async () => {
        await api("DELETE", `/v1/blocklist/${phonePath(entry.phone)}`);
        await search();
      }));
      cell(row, "").appendChild(remove);
    }
    $("blocklist-more").hidden = !page.cursor;
  }

  async function guarded(action) {
    try {
      await action();
      show("blocklist-error", "");
    } catch (error) {
      show("blocklist-error", error.message);
    }
  }

  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(search);
  });

  $("add-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const body = { type: Number($("add-type").value), reason: $("add-reason").value.trim() };
      await api("PUT", `/v1/blocklist/${phonePath($("add-phone").value)}`, { body });
      await search();
    });
  });

  function upload(file) {
    // XMLHttpRequest, not fetch: it reports the upload's progress.
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", new URL("/v1/blocklist/import", window.location.origin));
      request.setRequestHeader("x-api-key", apiKey);
      request.setRequestHeader("Content-Type", "text/csv");
      const bar = $("upload-progress");
      bar.hidden = false;
      bar.value = 0;
      request.upload.onprogress = (event) => {
        if (event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
      };
      request.onload = () => {
        bar.value = 100;
        let document_ = {};
        try {
          document_ = JSON.parse(request.responseText || "{}");
        } catch (_) {
          // not JSON: reported below with the status
        }
        if (request.status >= 400) reject(new ApiError(request.status, document_.detail || document_.message || request.statusText));
        else resolve(document_);
      };
      request.onerror = () => reject(new ApiError(0, "the API did not answer"));
      request.send(file);
    });
  }

  $("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("upload-file").files[0];
    const errors = $("upload-errors");
    clear(errors);
    if (!file) return;
    if (file.size > SMALL_IMPORT_BYTES) {
      show("blocklist-error", `${file.name} is over 1 MB: import it with \`sms-consent blocklist import\`.`);
      return;
    }
    $("upload-status").textContent = `Uploading ${file.name}…`;
    guarded(async () => {
      const result = await upload(file);
      $("upload-status").textContent = `Imported ${result.imported} rows, rejected ${result.rejected.length}.`;
      for (const problem of result.rejected.slice(0, 50)) {
        const item = document.createElement("li");
        item.textContent = `line ${problem.line}: ${problem.error}`;
        errors.appendChild(item);
      }
      await search();
    }).catch(() => undefined);
  });

  // ------------------------------------------------------------------ metrics

  const SVG = "http://www.w3.org/2000/svg";

  function barChart(svg, series) {
    // series: {label: [opt_ins, opt_outs]}; two bars per label, drawn to scale.
    clear(svg);
    const labels = Object.keys(series);
    const largest = Math.max(1, ...labels.flatMap((label) => series[label]));
    const rowHeight = 26;
    svg.setAttribute("viewBox", `0 0 420 ${Math.max(1, labels.length) * rowHeight + 4}`);
    labels.forEach((label, index) => {
      const y = index * rowHeight + 2;
      const name = document.createElementNS(SVG, "text");
      name.setAttribute("x", "0");
      name.setAttribute("y", String(y + 15));
      name.textContent = label;
      svg.appendChild(name);
      series[label].forEach((value, which) => {
        const bar = document.createElementNS(SVG, "rect");
        bar.setAttribute("x", "120");
        bar.setAttribute("y", String(y + which * 11));
        bar.setAttribute("height", "10");
        bar.setAttribute("width", String((260 * value) / largest));
        bar.setAttribute("class", which === 0 ? "bar-in" : "bar-out");
        bar.setAttribute("data-value", String(value));
        const title = document.createElementNS(SVG, "title");
        title.textContent = `${label}: ${value} ${which === 0 ? "opt-ins" : "opt-outs"}`;
        bar.appendChild(title);
        svg.appendChild(bar);
      });
    });
  }

  function pairs(ins, outs) {
    const series = {};
    for (const key of new Set([...Object.keys(ins), ...Object.keys(outs)])) series[key] = [ins[key] || 0, outs[key] || 0];
    return series;
  }

  $("metrics-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const figures = await getJson("/v1/metrics", {
        query: { program: $("metrics-program").value.trim(), from: $("metrics-from").value, to: $("metrics-to").value },
      });
      const list = $("metrics-figures");
      clear(list);
      const rows = {
        "Opt-ins": figures.opt_ins,
        "Opt-outs": figures.opt_outs,
        Subscribers: figures.subscribers,
        "Double opt-in conversion":
          figures.double_opt_in_conversion === null ? "-" : `${Math.round(figures.double_opt_in_conversion * 100)}%`,
        "Half confirmed within": figures.time_to_confirm.median_seconds === null ? "-" : `${figures.time_to_confirm.median_seconds} s`,
        "Opt-out confirmations within 5 min / later": `${figures.opt_out_confirmation.within_limit} / ${figures.opt_out_confirmation.over_limit}`,
        "Revocations within 10 business days / later": `${figures.revocations.within_10_business_days} / ${figures.revocations.later}`,
      };
      for (const [name, value] of Object.entries(rows)) {
        const term = document.createElement("dt");
        term.textContent = name;
        const detail = document.createElement("dd");
        detail.textContent = String(value);
        detail.dataset.figure = name;
        list.append(term, detail);
      }
      barChart($("chart-sources"), pairs(figures.opt_ins_by_source, figures.opt_outs_by_source));
      barChart($("chart-keywords"), pairs(figures.opt_ins_by_keyword, figures.opt_outs_by_keyword));
      $("metrics-result").hidden = false;
      show("metrics-error", "");
    } catch (error) {
      $("metrics-result").hidden = true;
      show("metrics-error", error.message);
    }
  });

  route();
  document.body.dataset.ready = "true";
})();
