// The secrets service's entry point; the wiring is in service.ts (tests start it in-process).
import { main } from '@gatehouse/service-host';
import { secretsService } from './service.js';

main(secretsService);
