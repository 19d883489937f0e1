// Issue 14 item 5: identity's crash points on sqlite (the cases: test-support/crash-points.ts).
import { describeCrashPoints } from './test-support/crash-points.js';

describeCrashPoints('sqlite');
