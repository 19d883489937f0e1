// The audit service's entry point; the wiring is in service.ts (tests start it in-process).
import { main } from '@gatehouse/service-host';
import { auditService } from './service.js';

main(auditService);
