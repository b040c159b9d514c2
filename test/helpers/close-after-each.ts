/**
 * Closing what a test opened (a stack, a link) once it is over, passed or failed, so the next
 * test starts on a clean TAP device.
 */

/**
 * Registers an `afterEach` in the calling `describe` and returns `closeAfterTest`: it hands back
 * what it is given, and that is closed after the current test (in the order given).
 */
export function useCloseAfterEach<T extends { close(): void }>(): (opened: T) => T {
  const open: T[] = [];
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
  });
  return (opened) => {
    open.push(opened);
    return opened;
  };
}
