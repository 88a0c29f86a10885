/**
 * The heartbeat deadlines of all the sessions of a server, without a timer per session.
 *
 * A queue holds the sessions waiting for one kind of deadline, all of the same length
 * (the server's `pingInterval`, `pingTimeout`, or their sum for v3 clients): appended at
 * the tail when their deadline starts, they are in deadline order, so one timer, armed
 * for the head, serves the whole queue. A session is linked into at most one queue
 * through its own fields (no entry object, no allocation), so moving it costs O(1).
 *
 * A deadline never fires early; it fires at most `slack` ms late (a tenth of its length, at
 * most 2.5 s), so that one timer callback handles the sessions due within that window
 * together. Batching is what makes an idle server cheap: 19,000 sessions with a 25 s
 * interval are 760 pings a second; sent in batches every 100 ms they cost about 65 µs of
 * CPU each (a write that wakes an idle client, then its pong), in batches of ~1,900 every
 * 2.5 s about 45-55 µs (`node bench/scale.js`, bench/README.md). A client waits pingInterval +
 * pingTimeout for a ping, so a ping 2.5 s late is well within its patience; a client
 * that stops answering is closed at most that much after pingTimeout.
 */
import { performance } from "perf_hooks";

/**
 * The fields a session lends to the queue it is in.
 *
 * @internal
 */
export interface HeartbeatEntry {
  /** the queue the session is in, null when in none */
  hbQueue: HeartbeatQueue | null;
  hbPrev: HeartbeatEntry | null;
  hbNext: HeartbeatEntry | null;
  /** when its deadline is due, in `performance.now()` ms */
  hbDue: number;
}

/** Longest wait past a deadline, so that deadlines close to each other share a callback. */
const MAX_SLACK = 2500;

/**
 * Sessions waiting for a deadline of the same length, in deadline order.
 *
 * @internal
 */
export class HeartbeatQueue {
  private head: HeartbeatEntry | null = null;
  private tail: HeartbeatEntry | null = null;
  private timer: NodeJS.Timeout | null = null;
  // when the pending timer fires (performance.now() ms)
  private timerAt = 0;

  /**
   * @param length the deadline's length in ms, read at each `push` (a server's options may change)
   * @param onDue called with each session whose deadline passed, once removed from the queue
   */
  constructor(
    private readonly length: () => number,
    private readonly onDue: (entry: HeartbeatEntry) => void,
  ) {}

  /**
   * Starts (or restarts) the deadline of `entry` now, moving it from the queue it was in.
   *
   * @example
   * pingQueue.push(socket); // the next ping is due in pingInterval ms
   */
  push(entry: HeartbeatEntry): void {
    if (entry.hbQueue !== null) {
      entry.hbQueue.remove(entry);
    }
    // whole milliseconds (rounded up: never early), so that the deadline is a small integer
    // held in the session itself, not a number boxed on the heap for each session
    const due = Math.ceil(performance.now() + this.length());
    entry.hbDue = due;
    entry.hbQueue = this;
    // the tail has the latest deadline unless the length was changed meanwhile
    let before = this.tail;
    while (before !== null && before.hbDue > due) {
      before = before.hbPrev;
    }
    const after = before === null ? this.head : before.hbNext;
    entry.hbPrev = before;
    entry.hbNext = after;
    if (before === null) {
      this.head = entry;
    } else {
      before.hbNext = entry;
    }
    if (after === null) {
      this.tail = entry;
    } else {
      after.hbPrev = entry;
    }
    if (this.timer === null || (before === null && due < this.timerAt)) {
      this.arm();
    }
  }

  /**
   * Takes `entry` out of the queue: its deadline no longer runs.
   *
   * @example
   * pingQueue.remove(socket);
   */
  remove(entry: HeartbeatEntry): void {
    if (entry.hbQueue !== this) {
      return;
    }
    const prev = entry.hbPrev;
    const next = entry.hbNext;
    if (prev === null) {
      this.head = next;
    } else {
      prev.hbNext = next;
    }
    if (next === null) {
      this.tail = prev;
    } else {
      next.hbPrev = prev;
    }
    entry.hbQueue = null;
    entry.hbPrev = null;
    entry.hbNext = null;
    // an empty queue holds no timer: it would keep the process alive for nothing
    if (this.head === null && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Arms the timer for the head's deadline, plus the slack. */
  private arm(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const head = this.head;
    if (head === null) {
      return;
    }
    const slack = Math.min(MAX_SLACK, Math.floor(this.length() / 10));
    const at = head.hbDue + slack;
    this.timerAt = at;
    this.timer = setTimeout(this.run, Math.max(1, Math.ceil(at - performance.now())));
  }

  private readonly run = (): void => {
    this.timer = null;
    const now = performance.now();
    let head = this.head;
    while (head !== null && head.hbDue <= now) {
      this.remove(head);
      this.onDue(head);
      head = this.head;
    }
    if (this.timer === null) {
      this.arm();
    }
  };
}
