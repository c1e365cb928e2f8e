// The image layer's public surface: what the CRI image RPCs and the container
// layer use. Everything else in src/image is internal.
export {
  ImageService, IMAGE_SERVICE_DEFAULTS,
  type ImageServiceOptions, type ImageRecord, type ImageFsUsage, type ImageHold, type ImagePullMetrics,
  type PullAuth, type ImageConfig, type Platform, type RegistriesOptions,
} from './image-service';
export { DEFAULT_REGISTRIES_OPTIONS, loadRegistriesConf } from './registries-conf';
