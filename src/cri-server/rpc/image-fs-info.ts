// ImageFsInfo: bytes and inodes used by the image store (the kubelet's image GC
// is driven by it).
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ImageFsInfoRequest__Output } from '../../generated/runtime/v1/ImageFsInfoRequest';
import type { ImageFsInfoResponse } from '../../generated/runtime/v1/ImageFsInfoResponse';

export const imageFsInfo = (services: CradleServices): UnaryRpc<ImageFsInfoRequest__Output, ImageFsInfoResponse> =>
  async () => {
    const usage = await services.images.fsInfo();
    const fsUsage = {
      timestamp: String(BigInt(usage.timestamp) * 1_000_000n),
      fsId: { mountpoint: usage.mountpoint },
      usedBytes: { value: String(usage.usedBytes) },
      inodesUsed: { value: String(usage.inodesUsed) },
    };
    return { imageFilesystems: [fsUsage], containerFilesystems: [] };
  };
