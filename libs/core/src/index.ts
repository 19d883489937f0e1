export {
  DomainError,
  InvalidArgumentError,
  NotFoundError,
  AlreadyExistsError,
  FailedPreconditionError,
  PermissionDeniedError,
  UnauthenticatedError,
  ResourceExhaustedError,
  UnavailableError,
  AbortedError,
  UnimplementedError,
  DeadlineExceededError,
  isDomainError,
  type ErrorKind,
} from './errors.js';
export { systemClock, ManualClock, type Clock, type RandomSource } from './clock.js';
export { baseTransaction, extendTransaction, type Transaction, type UnitOfWork } from './transaction.js';
export { base32Encode, base32Decode } from './base32.js';
export { freeText } from './free-text.js';
export { checkAccountId } from './account-id.js';
export { faultPoint, armedFaultPoint } from './fault-point.js';
