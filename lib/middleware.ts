/** A middleware: calls `next()` to go on, or `next(err)` to stop the chain. */
export type Middleware<T, E extends Error = Error> = (arg: T, next: (err?: E) => void) => void;

/**
 * Runs the middlewares one after the other on `arg`, then `done()` once all
 * passed, or `done(err)` at the first refusal. The list is copied first, so a
 * middleware registered meanwhile applies from the next run on.
 */
export function runMiddlewares<T, E extends Error>(
  middlewares: ReadonlyArray<Middleware<T, E>>,
  arg: T,
  done: (err?: E) => void,
): void {
  const fns = middlewares.slice(0);
  if (fns.length === 0) return done();
  const step = (i: number): void => {
    fns[i](arg, (err?: E) => {
      if (err) return done(err);
      if (i + 1 >= fns.length) return done();
      step(i + 1);
    });
  };
  step(0);
}
