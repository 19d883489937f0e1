// The identity service's entry point; the wiring is in service.ts (tests start it in-process).
import { main } from '@gatehouse/service-host';
import { identityService } from './service.js';

main(identityService);
