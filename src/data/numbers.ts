/**
 * Reading numbers the way people write them. It lives in data/ because the dataset loaders
 * need it (GSM8K's `#### 1,000`), and verify/ re-exports it for answer matching.
 */

/** Parse a number written the way people write answers: `1,000`, `$18.50`, `-3`, `25%`, `18.`. */
export function parseNumber(text: string): number | null {
  let s = text.trim().replace(/\.+$/, '').replace(/^\$\s*|\s+/g, '');
  s = s.replace(/^(-?)\$/, '$1').replace(/%$/, '');
  if (!/^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$/.test(s) || !/\d/.test(s)) return null;
  const n = Number(s.replace(/,/g, ''));
  return Number.isFinite(n) ? n : null;
}
