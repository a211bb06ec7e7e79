import { Drag } from '@lumino/dragdrop';
import { MimeData } from '@lumino/coreutils';

import { IClusterModel } from '../api';
import { canConnect, CELLS_MIME, clientCell, clientCode } from '../inject';

/** How far (px) the pointer moves before a press becomes a drag. */
const DRAG_THRESHOLD = 5;

/**
 * Let a cluster card be dragged into a notebook: after a press and a small
 * move, start a lumino drag that carries a code cell with the client code
 * (the notebook inserts it where it is dropped) and the code as text.
 */
export function handleCardPress(
  event: React.MouseEvent,
  cluster: IClusterModel
): void {
  if (
    event.button !== 0 ||
    !canConnect(cluster) ||
    (event.target as HTMLElement).closest('button, input, a')
  ) {
    return;
  }
  const card = event.currentTarget as HTMLElement;
  const startX = event.clientX;
  const startY = event.clientY;
  const onMove = (move: MouseEvent) => {
    if (
      Math.abs(move.clientX - startX) < DRAG_THRESHOLD &&
      Math.abs(move.clientY - startY) < DRAG_THRESHOLD
    ) {
      return;
    }
    stop();
    startDrag(card, cluster, move.clientX, move.clientY);
  };
  const stop = () => {
    document.removeEventListener('mousemove', onMove, true);
    document.removeEventListener('mouseup', stop, true);
  };
  document.addEventListener('mousemove', onMove, true);
  document.addEventListener('mouseup', stop, true);
}

function startDrag(
  card: HTMLElement,
  cluster: IClusterModel,
  clientX: number,
  clientY: number
): void {
  const mimeData = new MimeData();
  mimeData.setData(CELLS_MIME, [clientCell(cluster)]);
  mimeData.setData('text/plain', clientCode(cluster));
  const image = document.createElement('div');
  image.className = 'jp-CoffeaCasa-dragImage';
  image.textContent = `Client for ${cluster.name}`;
  const drag = new Drag({
    mimeData,
    dragImage: image,
    proposedAction: 'copy',
    supportedActions: 'copy',
    source: card
  });
  card.classList.add('jp-mod-dragging');
  void drag.start(clientX, clientY).then(() => {
    card.classList.remove('jp-mod-dragging');
  });
}
