// ListMetricDescriptors: the cAdvisor-style container_* metrics cradle reports.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ListMetricDescriptorsRequest__Output } from '../../generated/runtime/v1/ListMetricDescriptorsRequest';
import type { ListMetricDescriptorsResponse } from '../../generated/runtime/v1/ListMetricDescriptorsResponse';
import type * as Stats from '../../stats';

export const listMetricDescriptors = (_services: CradleServices): UnaryRpc<ListMetricDescriptorsRequest__Output, ListMetricDescriptorsResponse> =>
  async () => ({ descriptors: (require('../../stats') as typeof Stats).metricDescriptors() });
