/**
 * What keeps the process alive for `stack.net`, as libuv handles do for node:net: a listening
 * server or an open socket holds the event loop unless `unref()`'d.
 *
 * The stack itself holds no handle for its sockets (a memory wire has none, and the TAP link's
 * handle is its own business), so one holder per stack keeps a single ref'd Node timer while
 * at least one hold is taken, and clears it when the last is released. The timer never does
 * anything; it only exists.
 */
export class KeepAliveHolder {
  #holds = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Holds taken and not released (ref'd servers and sockets). */
  get holds(): number {
    return this.#holds;
  }

  /**
   * Takes one hold. Returns its release function, which is idempotent (call it on unref, on
   * close, on destroy: only the first call counts).
   */
  hold(): () => void {
    if (this.#holds++ === 0) this.#timer = setInterval(noop, MAX_TIMER_DELAY);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }
}

/** The longest delay a Node timer takes (2^31 - 1 ms); the timer never needs to fire. */
const MAX_TIMER_DELAY = 0x7fffffff;

function noop(): void {}

/**
 * The hold of one server or socket: taken while the object is active (listening, connecting,
 * connected) and ref'd, released otherwise.
 */
export class KeepAliveRef {
  #release: (() => void) | undefined;
  #refd = true;
  #active = false;

  constructor(private readonly holder: KeepAliveHolder) {}

  get refd(): boolean {
    return this.#refd;
  }

  ref(): void {
    this.#refd = true;
    this.#sync();
  }

  unref(): void {
    this.#refd = false;
    this.#sync();
  }

  /** The object became active (true) or finished (false). */
  setActive(active: boolean): void {
    this.#active = active;
    this.#sync();
  }

  #sync(): void {
    const want = this.#refd && this.#active;
    if (want && this.#release === undefined) this.#release = this.holder.hold();
    else if (!want && this.#release !== undefined) {
      this.#release();
      this.#release = undefined;
    }
  }
}
