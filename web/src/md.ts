// Markdown → safe HTML: marked renders with raw HTML escaped (shown as text), then DOMPurify
// sanitises the result (a second line: no scripts, event handlers, styles, forms, javascript: URLs).
import DOMPurify from "dompurify";
import { marked } from "marked";

marked.setOptions({ gfm: true, breaks: false, async: false });

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

// Raw HTML inside capsule Markdown is shown as text, never parsed: what people write is what others
// read, and nothing in a capsule can reach the DOM as markup except what Markdown itself produces.
marked.use({
  renderer: {
    html(token: { text: string }) {
      return escapeHtml(token.text);
    },
  },
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("rel", "noopener noreferrer nofollow");
    if ((node.getAttribute("href") || "").match(/^https?:/)) node.setAttribute("target", "_blank");
  }
});

export function renderMarkdown(src: string): string {
  const html = marked.parse(src, { async: false }) as string;
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
    FORBID_ATTR: ["style", "class", "id"],
  });
}
