import { Registry } from 'prom-client';

/** Prometheus text exposition content type. */
export const contentType: string = Registry.PROMETHEUS_CONTENT_TYPE;
