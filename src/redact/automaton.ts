/**
 * An Aho–Corasick automaton over the secrets: reading a text one character at a time, it is always in the
 * longest suffix of what it read that is a prefix of some secret, and it reports every secret that ends at the
 * character just read. A step costs one transition (amortised over the failure links) whatever the number of
 * secrets, so a text is read once, in time linear in its length plus the occurrences found.
 */
export class SecretAutomaton {
  // The root's transitions, dense: most characters of a log are read at or near the root.
  private readonly root = new Int32Array(0x10000);
  /** 1 for the characters that occur in some secret: after any other, the automaton is back at the root. */
  private readonly used = new Uint8Array(0x10000);
  // Below the root most states have one child (secrets part ways after a few characters): kept inline, and any
  // further children in one open-addressing table keyed by (state, character) rather than a Map per state.
  private readonly onlyChar: Int32Array;
  private readonly onlyChild: Int32Array;
  private readonly more: ChildTable;
  private readonly fail: Int32Array;
  /** How many characters the state stands for. */
  private readonly depth: Int32Array;
  /** Length of the secret that ends in this state, 0 for none. */
  private readonly own: Int32Array;
  /** The nearest state along the failure links where a secret ends, 0 for none. */
  private readonly dict: Int32Array;

  constructor(secrets: readonly string[]) {
    let size = 1;
    for (const secret of secrets) size += secret.length;
    this.onlyChar = new Int32Array(size).fill(-1);
    this.onlyChild = new Int32Array(size);
    this.more = new ChildTable(size);
    this.fail = new Int32Array(size);
    this.depth = new Int32Array(size);
    this.own = new Int32Array(size);
    this.dict = new Int32Array(size);
    let states = 1;
    for (const secret of secrets) {
      let state = 0;
      for (let i = 0; i < secret.length; i++) {
        const c = secret.charCodeAt(i);
        this.used[c] = 1;
        let next = this.child(state, c);
        if (next === 0) {
          next = states++;
          this.link(state, c, next);
          this.depth[next] = i + 1;
        }
        state = next;
      }
      this.own[state] = secret.length;
    }
    this.linkFailures(states);
  }

  /** How many of the characters read last may still begin a secret, in `state`. */
  pending(state: number): number {
    return this.depth[state] ?? 0;
  }

  /**
   * Reads `text[from..]` starting in `state` and returns the state it ends in; every secret that ends in the
   * text read is appended to `found` as its start and length, in order of end.
   */
  read(text: string, from: number, state: number, found: number[]): number {
    const { root, used, fail, own, dict } = this;
    let s = state;
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (used[c] === 0) {
        s = 0;
        continue;
      }
      for (;;) {
        if (s === 0) {
          s = root[c] ?? 0;
          break;
        }
        const next = this.child(s, c);
        if (next !== 0) {
          s = next;
          break;
        }
        s = fail[s] ?? 0;
      }
      if ((own[s] ?? 0) === 0 && (dict[s] ?? 0) === 0) continue;
      for (let t = own[s] === 0 ? (dict[s] ?? 0) : s; t !== 0; t = dict[t] ?? 0) {
        const length = own[t] ?? 0;
        found.push(i + 1 - length, length);
      }
    }
    return s;
  }

  /** The child of `state` on `c`, 0 for none (the root is no one's child). */
  private child(state: number, c: number): number {
    if (state === 0) return this.root[c] ?? 0;
    if (this.onlyChar[state] === c) return this.onlyChild[state] ?? 0;
    return this.more.get(state, c);
  }

  private link(state: number, c: number, next: number): void {
    if (state === 0) this.root[c] = next;
    else if (this.onlyChar[state] === -1) {
      this.onlyChar[state] = c;
      this.onlyChild[state] = next;
    } else this.more.set(state, c, next);
  }

  /** Breadth first, so a state's failure target is final before its children's are derived from it. */
  private linkFailures(states: number): void {
    const queue = new Int32Array(states);
    let head = 0;
    let tail = 0;
    this.root.forEach((next) => next !== 0 && (queue[tail++] = next));
    const visit = (state: number, c: number, next: number): void => {
      let f = this.fail[state] ?? 0;
      let target = this.child(f, c);
      while (target === 0 && f !== 0) {
        f = this.fail[f] ?? 0;
        target = this.child(f, c);
      }
      this.fail[next] = target;
      this.dict[next] = (this.own[target] ?? 0) > 0 ? target : (this.dict[target] ?? 0);
      queue[tail++] = next;
    };
    while (head < tail) {
      const state = queue[head++] ?? 0;
      const c = this.onlyChar[state] ?? -1;
      if (c !== -1) visit(state, c, this.onlyChild[state] ?? 0);
      this.more.forEachOf(state, (cc, next) => visit(state, cc, next));
    }
  }
}

/** (state, character) → child, open addressing with linear probing; sized for at most `capacity` entries. */
class ChildTable {
  private readonly mask: number;
  private readonly states: Int32Array;
  private readonly chars: Int32Array;
  private readonly children: Int32Array;
  /** The slots in use per state, for the breadth-first walk. */
  private readonly slotsOf = new Map<number, number[]>();

  constructor(capacity: number) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.mask = size - 1;
    this.states = new Int32Array(size);
    this.chars = new Int32Array(size);
    this.children = new Int32Array(size);
  }

  get(state: number, c: number): number {
    for (let slot = this.slot(state, c); ; slot = (slot + 1) & this.mask) {
      const s = this.states[slot] ?? 0;
      if (s === 0) return 0;
      if (s === state && this.chars[slot] === c) return this.children[slot] ?? 0;
    }
  }

  set(state: number, c: number, child: number): void {
    let slot = this.slot(state, c);
    while ((this.states[slot] ?? 0) !== 0) slot = (slot + 1) & this.mask;
    this.states[slot] = state;
    this.chars[slot] = c;
    this.children[slot] = child;
    const slots = this.slotsOf.get(state);
    if (slots) slots.push(slot);
    else this.slotsOf.set(state, [slot]);
  }

  forEachOf(state: number, visit: (c: number, child: number) => void): void {
    for (const slot of this.slotsOf.get(state) ?? []) visit(this.chars[slot] ?? 0, this.children[slot] ?? 0);
  }

  private slot(state: number, c: number): number {
    return (Math.imul(state, 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b)) & this.mask;
  }
}
