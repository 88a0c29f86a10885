/**
 * The heartbeat deadlines of all the sessions of a server, without a timer per session.
 *
 * A queue holds the sessions waiting for one kind of deadline, all of the same length
 * (the server's `pingInterval`, `pingTimeout`, or their sum for v3 clients): appended at
 * the tail when their deadline starts, they are in deadline order, so one timer, armed
 * for the head, serves the whole queue. A session is linked into at most one queue
 * through its own fields (no entry object, no allocation), so moving it costs O(1).
 *
 * Each deadline fires when it is due, as a timer of its own would, within the timers'
 * precision of a millisecond (deadlines are whole milliseconds, so those due in the same
 * millisecond share a callback). A ping must not leave late: a client waits at most
 * pingInterval + pingTimeout for it, and with a short pingTimeout a late ping disconnects
 * every client; a session that stops answering must be closed at pingTimeout, as with the
 * reference. `bench/scale.js` gives what the heartbeat of many idle sessions costs.
 *
 * Batching is opt-in (the engine option `pingBatchWindow`): the timer then fires up to that
 * long after the head's deadline and serves every deadline passed by then, which wakes an
 * idle server once per window instead of about once per session per heartbeat.
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
   * @param slack how late a deadline may fire, so that those close to each other share a
   *   callback: 0 (each on time) unless the server's `pingBatchWindow` asks for more
   * @param unref the timer does not keep the process alive (deadlines of things that do, or
   *   that only free things), and so may stay armed when the queue empties: a queue that
   *   empties often (a deadline per request, most of them met) arms it once per deadline
   *   length instead of once per entry
   */
  constructor(
    private readonly length: () => number,
    private readonly onDue: (entry: HeartbeatEntry) => void,
    private readonly slack: () => number = () => 0,
    private readonly unref = false,
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
    // whole milliseconds, so that the deadline is a small integer held in the session itself,
    // not a number boxed on the heap for each session; counted from the millisecond that
    // began, as a timer counts from the event loop's time
    const due = Math.floor(performance.now()) + this.length();
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
    // an empty queue holds no timer that would keep the process alive for nothing
    if (this.head === null && this.timer !== null && !this.unref) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Arms the timer for the head's deadline. */
  private arm(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const head = this.head;
    if (head === null) {
      return;
    }
    const at = head.hbDue + this.slack();
    this.timerAt = at;
    this.timer = setTimeout(this.run, Math.max(1, at - performance.now()));
    if (this.unref) {
      this.timer.unref();
    }
  }

  private readonly run = (): void => {
    this.timer = null;
    const now = performance.now();
    let head = this.head;
    // (a timer, counted from the event loop's time, may fire a little before performance.now()
    // reaches the deadline: arm() then waits for the rest)
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
