// The metric catalog: Klaviyo metric ids → metric names. A Klaviyo flow export names its trigger
// metric by id (`"XyZ9aB"`) while events carry the name (`"Placed Order"`); with the catalog a
// trigger may use either. FLOWHOOK_METRIC_CATALOG names a JSON file holding
//   - an object `{ "XyZ9aB": "Placed Order", … }`, or
//   - the body of Klaviyo's `GET /api/metrics` (`{ "data": [{ "id", "attributes": { "name" } }] }`),
//     or its `data` array.

export type MetricCatalog = Readonly<Record<string, string>>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The catalog in `doc`, or undefined when `doc` is none of the accepted shapes. */
export function parseMetricCatalog(doc: unknown): MetricCatalog | undefined {
  const catalog = Object.create(null) as Record<string, string>;
  const items = isObject(doc) && Array.isArray(doc.data) ? doc.data : doc;
  if (Array.isArray(items)) {
    for (const item of items) {
      const name = isObject(item) && isObject(item.attributes) ? item.attributes.name : undefined;
      if (!isObject(item) || typeof item.id !== 'string' || typeof name !== 'string') {
        return undefined;
      }
      catalog[item.id] = name;
    }
    return catalog;
  }
  if (!isObject(items)) return undefined;
  for (const [id, name] of Object.entries(items)) {
    if (typeof name !== 'string') return undefined;
    catalog[id] = name;
  }
  return catalog;
}
