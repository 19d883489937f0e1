// The allowlist service's entry point; the wiring is in service.ts (tests start it in-process).
import { main } from '@gatehouse/service-host';
import { allowlistService } from './service.js';

main(allowlistService);
