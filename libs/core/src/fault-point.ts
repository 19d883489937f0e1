/**
 * Crash-test hook (issue 14 item 5): when GATEHOUSE_TEST_FAULT_POINT names this point, the
 * process kills itself with SIGKILL right here — no finally blocks, no flush, as a power cut or
 * an OOM kill would. Read once at start; unset (production) it costs one comparison. The host
 * refuses to start with it set unless GATEHOUSE_DEV_MODE is on, so it cannot reach production.
 */
const ARMED = process.env['GATEHOUSE_TEST_FAULT_POINT'];

/** Dies here if the crash test armed this point. */
export function faultPoint(name: string): void {
  if (ARMED !== undefined && ARMED === name) process.kill(process.pid, 'SIGKILL');
}

/** The armed point, if any (the host logs it and refuses it outside dev mode). */
export function armedFaultPoint(): string | undefined {
  return ARMED;
}
