// The presslens page: builds requests for the JSON API and renders results with textContent only
// (article text is untrusted: no HTML string is ever parsed from it).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

function addArticle(value = "") {
  const node = $("#article-input").content.firstElementChild.cloneNode(true);
  $("textarea", node).value = value;
  $(".remove", node).addEventListener("click", () => { node.remove(); renumber(); });
  $("#articles").appendChild(node);
  renumber();
  return node;
}

function renumber() {
  const items = document.querySelectorAll(".article-input");
  items.forEach((el, i) => {
    $(".n", el).textContent = String(i + 1);
    $(".remove", el).hidden = items.length === 1;
  });
}

function looksLikeHtml(text) {
  return /^\s*</.test(text) && /<(html|body|article|p|div|h1)[\s>]/i.test(text);
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// The id of sentence `index` of the n-th result card: key claims link to it.
const sentenceId = (n, index) => `r${n}-s${index}`;

function claimLink(n, claim) {
  const a = el("a", { href: `#${sentenceId(n, claim.index)}`, class: "claim-link" }, claim.text);
  a.addEventListener("click", (event) => {
    const target = document.getElementById(sentenceId(n, claim.index));
    if (!target) return;
    event.preventDefault();
    history.replaceState(null, "", `#${target.id}`);
    document.querySelectorAll(".article-text .focus").forEach(x => x.classList.remove("focus"));
    target.classList.add("focus");
    target.scrollIntoView({ block: "center" });
  });
  return a;
}

// The article as written: one <p> per input paragraph (the `paragraph` of each sentence), commentary
// highlighted, every sentence's P(commentary) on hover.
function renderArticle(r, n) {
  const body = el("div", { class: "article-text" });
  let para = null, current = null;
  for (const s of r.sentences) {
    if (s.is_title) { body.appendChild(el("p", { class: "title" }, s.text)); continue; }
    if (para === null || s.paragraph !== current) {
      para = el("p", { class: "paragraph" });
      body.appendChild(para);
      current = s.paragraph;
    } else {
      para.appendChild(document.createTextNode(" "));
    }
    const hover = `${s.commentary ? "commentary" : "not commentary"}, p=${s.probability.toFixed(2)}`;
    const span = s.commentary
      ? el("mark", { class: "commentary", title: hover }, s.text)
      : el("span", { class: "sentence", title: hover }, s.text);
    span.id = sentenceId(n, s.index);
    span.dataset.index = String(s.index);
    para.appendChild(span);
  }
  return body;
}

function renderResult(r, n) {
  const card = el("article", { class: "result", "data-id": r.id, "data-label": r.label });
  const head = el("h2", {}, r.title || r.id);
  card.appendChild(head);
  const verdict = el("p", { class: "verdict" });
  verdict.appendChild(el("span", { class: `label ${r.label}` }, r.label));
  verdict.appendChild(document.createTextNode(
    ` confidence ${(r.confidence * 100).toFixed(0)}% · ${r.commentary.length} commentary sentence` +
    (r.commentary.length === 1 ? "" : "s")));
  card.appendChild(verdict);

  card.appendChild(el("h3", {}, "Key claims"));
  const ul = el("ul", { class: "summary" });
  for (const s of r.summary) {
    const li = el("li");
    li.appendChild(claimLink(n, s));
    if (s.speaker) li.appendChild(el("span", { class: "speaker" }, ` (${s.speaker})`));
    ul.appendChild(li);
  }
  card.appendChild(ul);

  card.appendChild(el("h3", {}, "Article"));
  card.appendChild(renderArticle(r, n));
  return card;
}

function renderCoverage(coverage) {
  const results = coverage.articles;
  const box = $("#coverage");
  box.replaceChildren(el("h2", {}, `Coverage of one event: ${results.length} articles`));
  const table = el("table", { class: "coverage" });
  const hdr = el("tr");
  ["Article", "Label", "Confidence", "Commentary sentences", "Lead claim"].forEach(h => hdr.appendChild(el("th", {}, h)));
  table.appendChild(hdr);
  for (const r of results) {
    const tr = el("tr");
    tr.appendChild(el("td", {}, r.title || r.id));
    tr.appendChild(el("td", {}, r.label));
    tr.appendChild(el("td", {}, `${(r.confidence * 100).toFixed(0)}%`));
    tr.appendChild(el("td", {}, String(r.commentary.length)));
    tr.appendChild(el("td", {}, r.summary.length ? r.summary[0].text : ""));
    table.appendChild(tr);
  }
  box.appendChild(table);
  const claimList = (claims, cls, withSource) => {
    const ul = el("ul", { class: cls });
    for (const c of claims) {
      const li = el("li");
      li.appendChild(claimLink(c.article_index + 1, c));
      const who = [c.speaker, withSource ? c.article : null].filter(Boolean).join(", ");
      if (who) li.appendChild(el("span", { class: "speaker" }, ` (${who})`));
      ul.appendChild(li);
    }
    return ul;
  };
  box.appendChild(el("h3", {}, "Event summary"));
  box.appendChild(claimList(coverage.summary, "event-summary", true));
  box.appendChild(el("h3", {}, "Claims several articles share"));
  if (!coverage.shared.length) box.appendChild(el("p", { class: "none" }, "None found."));
  const shared = el("ul", { class: "shared" });
  for (const c of coverage.shared) {
    const li = el("li", {}, c.text);
    li.appendChild(el("span", { class: "speaker" }, ` (in ${c.articles.join(", ")})`));
    shared.appendChild(li);
  }
  box.appendChild(shared);
  box.appendChild(el("h3", {}, "Claims only one article makes"));
  for (const [id, claims] of Object.entries(coverage.unique)) {
    if (!claims.length) continue;
    box.appendChild(el("h4", {}, id));
    box.appendChild(claimList(claims, "unique", false));
  }
  box.hidden = false;
}

async function post(path, payload) {
  const headers = { "Content-Type": "application/json" };
  const key = $("#api-key").value.trim();
  if (key) headers["Authorization"] = `Bearer ${key}`;
  const resp = await fetch(path, { method: "POST", headers, body: JSON.stringify(payload) });
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) throw new Error((data && data.error) || `HTTP ${resp.status}`);
  return data;
}

async function analyze(event) {
  event.preventDefault();
  const status = $("#status");
  const texts = [...document.querySelectorAll(".article-input textarea")].map(t => t.value).filter(v => v.trim());
  $("#results").replaceChildren();
  $("#coverage").hidden = true;
  if (!texts.length) { status.className = "error"; status.textContent = "Paste at least one article."; return; }
  const articles = texts.map((t, i) => looksLikeHtml(t) ? { id: `article-${i + 1}`, html: t } : { id: `article-${i + 1}`, text: t });
  const payload = { articles, summary_sentences: Number($("#sentences").value) || 3, claims_only: $("#claims-only").checked };
  status.className = ""; status.textContent = "Analyzing…";
  $("#analyze").disabled = true;
  try {
    // Several articles: one coverage call returns each article's analysis and the cross-outlet view.
    const coverage = articles.length > 1 ? await post("/v1/coverage", payload) : null;
    const data = coverage ? { model: coverage.model, results: coverage.articles } : await post("/v1/analyze", payload);
    data.results.forEach((r, i) => $("#results").appendChild(renderResult(r, i + 1)));
    if (coverage) renderCoverage(coverage);
    status.textContent = `Done: ${data.results.length} article${data.results.length === 1 ? "" : "s"} (model ${data.model}).`;
  } catch (err) {
    status.className = "error";
    status.textContent = `Error: ${err.message}`;
  } finally {
    $("#analyze").disabled = false;
  }
}

addArticle();
$("#add").addEventListener("click", () => $("textarea", addArticle()).focus());
$("#form").addEventListener("submit", analyze);
