import { EventEmitter } from "events";

/**
 * A map of event names to listener signatures, e.g.
 * `{ chat: (text: string) => void; ping: (cb: () => void) => void }`.
 */
export interface EventsMap {
  [event: string]: any;
}

/** The map used when no type argument is given: any event, any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: any[]) => void;
}

export type EventNames<Map extends EventsMap> = keyof Map & (string | symbol);

export type EventParams<Map extends EventsMap, Ev extends EventNames<Map>> = Parameters<Map[Ev]>;

/** The names of a map, or of its reserved map, that can be listened to. */
export type ReservedOrUserEventNames<ReservedEvents extends EventsMap, UserEvents extends EventsMap> =
  EventNames<ReservedEvents> | EventNames<UserEvents>;

type FallbackToUntypedListener<T> = [T] extends [never] ? (...args: any[]) => void | Promise<void> : T;

/** A listener for a name: the reserved signature wins over the user's one. */
export type ReservedOrUserListener<
  ReservedEvents extends EventsMap,
  UserEvents extends EventsMap,
  Ev extends ReservedOrUserEventNames<ReservedEvents, UserEvents>,
> = FallbackToUntypedListener<
  Ev extends EventNames<ReservedEvents>
    ? ReservedEvents[Ev]
    : Ev extends EventNames<UserEvents>
      ? UserEvents[Ev]
      : never
>;

export type Last<T extends any[]> = T extends [...infer _Head, infer L] ? L : any;

export type AllButLast<T extends any[]> = T extends [...infer Head, any] ? Head : any[];

export type FirstArg<T> = T extends (arg: infer A, ...rest: any[]) => any ? A : any;

type FirstNonError<T extends any[]> = T[0] extends Error ? T[1] : T[0];

/** What an acknowledgement resolves with, skipping a leading timeout error. */
export type FirstNonErrorArg<T> = T extends (...args: infer P) => any ? FirstNonError<P> : any;

type IsAck<T> = T extends (...args: any[]) => any ? true : false;

/** Events whose last parameter is an acknowledgement callback. */
export type EventNamesWithAck<Map extends EventsMap> = {
  [K in EventNames<Map>]: IsAck<Last<EventParams<Map, K>>> extends false ? never : K;
}[EventNames<Map>];

/** Events that take no acknowledgement callback. */
export type EventNamesWithoutAck<Map extends EventsMap> = {
  [K in EventNames<Map>]: IsAck<Last<EventParams<Map, K>>> extends true ? never : K;
}[EventNames<Map>];

/** Broadcasts cannot carry a plain acknowledgement (it would get many answers). */
export type RemoveAcknowledgements<Map extends EventsMap> = {
  [K in EventNamesWithoutAck<Map>]: Map[K];
};

type WithTimeoutError<Params extends any[]> = {
  [K in keyof Params]: Params[K] extends (...args: infer P) => infer R
    ? P[0] extends Error
      ? Params[K]
      : (err: Error, ...args: P) => R
    : Params[K];
};

type WithMultipleResponses<Params extends any[]> = {
  [K in keyof Params]: Params[K] extends (...args: infer P) => infer R
    ? (err: Error, responses: Array<P[0]>) => R
    : Params[K];
};

/** `socket.timeout(ms)`: every acknowledgement first receives an error. */
export type DecorateAcknowledgements<Map extends EventsMap> = {
  [K in keyof Map]: Map[K] extends (...args: infer P) => infer R
    ? (...args: WithTimeoutError<P>) => R
    : Map[K];
};

/** `io.timeout(ms)`: acknowledgements receive an error and every response. */
export type DecorateAcknowledgementsWithTimeoutAndMultipleResponses<Map extends EventsMap> = {
  [K in keyof Map]: Map[K] extends (...args: infer P) => infer R
    ? (...args: WithMultipleResponses<P>) => R
    : Map[K];
};

export type DecorateAcknowledgementsWithMultipleResponses<Map extends EventsMap> =
  DecorateAcknowledgementsWithTimeoutAndMultipleResponses<Map>;

/**
 * An EventEmitter whose `on` and `once` are checked against event maps:
 * `ListenEvents` for listeners, and `ReservedEvents` (such as "connection" or
 * "disconnect") which only the library emits. Its subclasses declare their own
 * `emit`: a namespace or a server broadcasts what it emits.
 */
export abstract class StrictEventListener<
  ListenEvents extends EventsMap,
  // "no reserved events": its keys are `never`, which the event name types rely on
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  ReservedEvents extends EventsMap = {},
> extends EventEmitter {
  override on<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(
    ev: Ev,
    listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>,
  ): this {
    return super.on(ev, listener as (...args: any[]) => void);
  }

  override once<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(
    ev: Ev,
    listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>,
  ): this {
    return super.once(ev, listener as (...args: any[]) => void);
  }

  /** Emits an event that only the library may emit (e.g. "connection"). */
  protected emitReserved<Ev extends EventNames<ReservedEvents>>(
    ev: Ev,
    ...args: EventParams<ReservedEvents, Ev>
  ): boolean {
    return super.emit(ev, ...args);
  }

  /** Emits an event received from the network, whose shape is not checked. */
  protected emitUntyped(ev: string, ...args: any[]): boolean {
    return super.emit(ev, ...args);
  }

  override listeners<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(
    event: Ev,
  ): ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>[] {
    return super.listeners(event) as ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>[];
  }
}

/**
 * A {@link StrictEventListener} whose `emit` is checked against `EmitEvents` and
 * calls the listeners, as EventEmitter's does.
 */
export abstract class StrictEventEmitter<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  // "no reserved events": its keys are `never`, which the event name types rely on
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  ReservedEvents extends EventsMap = {},
> extends StrictEventListener<ListenEvents, ReservedEvents> {
  override emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean {
    return super.emit(ev, ...args);
  }
}

/** Anything that emits to clients: a socket, a namespace, a broadcast operator. */
export interface TypedEventBroadcaster<EmitEvents extends EventsMap> {
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
}
