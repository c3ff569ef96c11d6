/** granary/client: clients that call grains from outside any silo. */
export { GrainClient } from './grain-client.js';
export type { ClientTransport, ConnectOptions } from './grain-client.js';
export type { HttpClientOptions } from './http.js';
