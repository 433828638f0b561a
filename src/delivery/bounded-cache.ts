// The per-attempt work that depends only on text every job of a flow repeats (its URL, its
// signing secret) is done once per distinct text: a Map, cleared whenever it is full, so
// neither rotated secrets nor one-off URLs pile up.

export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly maxEntries: number) {}

  /** The remembered value for `key`, or `compute(key)` remembered. A throw is not remembered. */
  get(key: K, compute: (key: K) => V): V {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = compute(key);
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(key, value);
    }
    return value;
  }
}
