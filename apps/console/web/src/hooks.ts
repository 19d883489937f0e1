import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** Data loaded from the API, with its error and a way to load it again after a change. */
export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** Local edits (live events, optimistic removal) without a round trip. */
  update: (change: (current: T | undefined) => T | undefined) => void;
}

/**
 * Loads once per change of `deps` and on `reload()`, keeping only the newest answer so a slow
 * earlier request never overwrites a later one.
 */
export function useResource<T>(load: () => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const latest = useRef(0);
  const loader = useRef(load);
  loader.current = load;

  useEffect(() => {
    const ticket = ++latest.current;
    setLoading(true);
    loader.current().then(
      (value) => {
        if (ticket !== latest.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (failure: unknown) => {
        if (ticket !== latest.current) return;
        setError(failure);
        setLoading(false);
      },
    );
    return () => {
      // A newer effect (or unmount) makes this answer stale.
      if (ticket === latest.current) latest.current++;
    };
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const update = useCallback((change: (current: T | undefined) => T | undefined) => setData(change), []);
  return { data, error, loading, reload, update };
}

/**
 * The outcome of the last change made to a loaded list (a message to show), and `done`, which
 * records a new outcome and loads the list again.
 */
export function useOutcome<O>(reload: () => void, initial: O): [O, (next: O) => void] {
  const [outcome, setOutcome] = useState<O>(initial);
  const done = useCallback(
    (next: O) => {
      setOutcome(next);
      reload();
    },
    [reload],
  );
  return [outcome, done];
}

/** One user action at a time: its busy flag (to disable the button) and its error to show. */
export interface Action {
  busy: boolean;
  error: unknown;
  /** Runs `work`, records a failure instead of throwing; resolves true when it succeeded. */
  run: (work: () => Promise<void>) => Promise<boolean>;
  clear: () => void;
  fail: (error: unknown) => void;
}

/** Tracks one action's busy state and error, so every form shows the service's message. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const run = useCallback(async (work: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
      return true;
    } catch (failure: unknown) {
      if (mounted.current) setError(failure);
      return false;
    } finally {
      if (mounted.current) setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setError(undefined), []);
  const fail = useCallback((failure: unknown) => setError(failure), []);
  return { busy, error, run, clear, fail };
}

/** The current time, ticking every second, for countdowns. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
