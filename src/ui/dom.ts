/**
 * Building the page's elements. Everything from the API goes in as text (textContent, attribute
 * values through setAttribute, hrefs built here from '#/…' and an encoded id), never as HTML:
 * nothing in the page's code assigns innerHTML.
 */

export type Child = Node | string | number | null | undefined | false;
type Attributes = Readonly<Record<string, string | undefined>>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(name, value);
  append(element, children);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Readonly<Record<string, string | number>> = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  append(element, children);
  return element;
}

function append(parent: Element, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

export function button(label: string, onClick: () => void, attributes: Attributes = {}): HTMLButtonElement {
  const element = el('button', { type: 'button', ...attributes }, label);
  element.addEventListener('click', onClick);
  return element;
}

/** A link to a route of the page: '#/' + the parts, each encoded. */
export function link(label: Child, ...parts: string[]): HTMLAnchorElement {
  return el('a', { href: hrefOf(...parts) }, label);
}

export function hrefOf(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

/** A list's route with its query: '#/<section>', then the parameters that are not empty (filters, a cursor). */
export function listHref(section: string, query: Readonly<Record<string, string>>): string {
  const params = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== ''));
  return `#/${section}${params.size === 0 ? '' : `?${params.toString()}`}`;
}

/** A filter's <select>: `anyLabel` for no filter (''), then the values; `current` selected. */
export function select(id: string, anyLabel: string, values: readonly string[], current: string): HTMLSelectElement {
  const element = el('select', { id }, el('option', { value: '' }, anyLabel), ...values.map((value) => el('option', { value }, value)));
  element.value = current;
  return element;
}

export function statusBadge(status: string): HTMLSpanElement {
  return el('span', { class: `status ${status}`, 'data-status': status }, status);
}

/** A JSON value as indented text; a string output of a text runner as it is. */
export function jsonText(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}

export function timeText(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A <dl> of label/value pairs; pairs whose value is undefined are left out. */
export function fields(pairs: readonly (readonly [string, Child])[]): HTMLDListElement {
  const list = el('dl', { class: 'fields' });
  for (const [label, value] of pairs) if (value !== undefined) list.append(el('dt', {}, label), el('dd', {}, value ?? '—'));
  return list;
}

export function table(headings: readonly string[], rows: readonly (readonly Child[])[], attributes: Attributes = {}): HTMLTableElement {
  return el('table', attributes,
    el('thead', {}, el('tr', {}, ...headings.map((heading) => el('th', {}, heading)))),
    el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((cell) => el('td', {}, cell))))));
}

export function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

/** The nodes of a list, without the ones a condition left out. */
export function present<T>(items: readonly (T | null | undefined | false)[]): T[] {
  return items.filter((item): item is T => item !== null && item !== undefined && item !== false);
}
