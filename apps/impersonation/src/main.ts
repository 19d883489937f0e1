// The impersonation service's entry point; the wiring is in service.ts (tests start it in-process).
import { main } from '@gatehouse/service-host';
import { impersonationService } from './service.js';

main(impersonationService);
