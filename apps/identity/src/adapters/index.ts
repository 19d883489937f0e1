/**
 * Adapters of the identity service to the outside world (HTTP), kept out of src/domain so the
 * domain stays free of transports. Today: the JWKS fetcher for Google's signing keys.
 */
export { HttpJwksSource, GOOGLE_JWKS_URL, type HttpJwksSourceOptions } from './http-jwks-source.js';
export { HttpSmsGateway, DevSmsSink, type HttpSmsGatewayOptions } from './http-sms-gateway.js';
