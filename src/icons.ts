import { LabIcon } from '@jupyterlab/ui-components';

import coffeaCasaSvg from '../style/icons/coffea-casa.svg';

export const coffeaCasaIcon = new LabIcon({
  name: 'coffea-casa-lab:logo',
  svgstr: coffeaCasaSvg
});
