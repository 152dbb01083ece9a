// @mention autocomplete in any textarea marked data-mentions: typing "@" and a letter or
// two lists people who may see the child (the server decides who: never a directory),
// and picking one writes their @handle. Arrow keys move, Enter or Tab picks, Escape closes.
import { announce, el } from "./render.js";

const TYPED = /(^|[^\w@])@([a-z0-9][a-z0-9._-]{0,30})$/i;
const WAIT_MS = 150;
let listCount = 0;

function typedAt(box) {
  const match = TYPED.exec(box.value.slice(0, box.selectionStart));
  return match ? { query: match[2], start: box.selectionStart - match[2].length - 1 } : null;
}

function childIdOf(box) {
  return Number(box.closest("[data-child-id]")?.dataset.childId || 0);
}

class Picker {
  constructor(box) {
    this.box = box;
    this.people = [];
    this.active = -1;
    this.timer = null;
    this.asked = 0;
    listCount += 1;
    this.list = el("ul", { class: "mention-list", role: "listbox", id: `mention-list-${listCount}`, "aria-label": "People you can mention" });
    this.list.hidden = true;
    box.after(this.list);
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-controls", this.list.id);
    box.addEventListener("input", () => this.soon());
    box.addEventListener("keydown", (event) => this.key(event));
    box.addEventListener("blur", () => setTimeout(() => this.close(), 200));
    this.list.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus
    this.list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  soon() {
    clearTimeout(this.timer);
    if (!typedAt(this.box)) {
      this.close();
      return;
    }
    this.timer = setTimeout(() => this.ask(), WAIT_MS);
  }

  async ask() {
    const typed = typedAt(this.box);
    const childId = childIdOf(this.box);
    if (!typed || !childId) return;
    const asked = ++this.asked;
    try {
      const url = `/api/v1/children/${childId}/mentionable?q=${encodeURIComponent(typed.query)}`;
      const response = await fetch(url, { headers: { accept: "application/json" } });
      if (!response.ok || asked !== this.asked) return;
      this.show((await response.json()).people);
    } catch {
      // Offline: handles typed in full still work.
    }
  }

  show(people) {
    this.people = people;
    this.active = people.length ? 0 : -1;
    this.list.replaceChildren(...people.map((person, index) => el("li", {
      role: "option", id: `${this.list.id}-${index}`, "data-index": String(index), class: "mention-option",
    }, el("strong", { text: person.name }), " ", el("span", { class: "handle", text: `@${person.handle}` }),
    " ", el("span", { class: "muted", text: `${person.job_title ? `${person.job_title}, ` : ""}${person.agency}` }))));
    this.list.hidden = !people.length;
    this.mark();
    if (people.length) announce(`${people.length} ${people.length === 1 ? "person" : "people"} to mention: up and down arrows to choose, Enter to pick.`);
  }

  mark() {
    for (const [index, option] of [...this.list.children].entries()) {
      option.setAttribute("aria-selected", String(index === this.active));
    }
    if (this.active >= 0) this.box.setAttribute("aria-activedescendant", `${this.list.id}-${this.active}`);
    else this.box.removeAttribute("aria-activedescendant");
  }

  key(event) {
    if (this.list.hidden) return;
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves) {
      event.preventDefault();
      this.active = (this.active + moves[event.key] + this.people.length) % this.people.length;
      this.mark();
    } else if ((event.key === "Enter" || event.key === "Tab") && this.active >= 0) {
      event.preventDefault();
      this.pick(this.active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.close();
    }
  }

  pick(index) {
    const person = this.people[index];
    const typed = typedAt(this.box);
    if (!person || !typed) return;
    const before = this.box.value.slice(0, typed.start);
    const after = this.box.value.slice(this.box.selectionStart).replace(/^\S*/, "");
    const written = `@${person.handle} `;
    this.box.value = before + written + after.replace(/^ /, "");
    const caret = before.length + written.length;
    this.box.setSelectionRange(caret, caret);
    this.box.focus();
    this.box.dispatchEvent(new Event("input", { bubbles: true })); // the count follows
    this.close();
    announce(`${person.name} will be mentioned.`);
  }

  close() {
    clearTimeout(this.timer);
    this.asked += 1;
    this.people = [];
    this.active = -1;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.box.removeAttribute("aria-activedescendant");
  }
}

const pickers = new WeakMap();

/** Watch every textarea marked data-mentions, now and later (edit forms come and go). */
export function startMentions() {
  const attach = (box) => {
    if (box?.matches?.("textarea[data-mentions]") && !pickers.has(box)) pickers.set(box, new Picker(box));
  };
  document.querySelectorAll("textarea[data-mentions]").forEach(attach);
  document.addEventListener("focusin", (event) => attach(event.target));
}
