// The interactive 3D view of facerecon's HTML reports (facerecon/report).
//
// The page embeds each mesh as a <script type="application/json" id=...> payload written by
// facerecon/report/meshdata.py: {"geometry": base64 of a gzip'd buffer, "layout": where each
// array lies in it, "texture": a data: URI or null}. Every element with class "mesh3d" and a
// data-mesh attribute naming such a payload becomes a three.js view when it scrolls into sight,
// and gives its WebGL context back when it leaves (browsers keep only ~16 contexts alive).
// The element's data-state says "loading", "ready" (first frame drawn) or "error" (with a message).
import {
  AmbientLight, BufferAttribute, BufferGeometry, Color, DirectionalLight, HemisphereLight, Mesh,
  MeshStandardMaterial, PerspectiveCamera, Scene, SRGBColorSpace, TextureLoader, WebGLRenderer,
} from 'three';
import {OrbitControls} from 'three/addons/controls/OrbitControls.js';

const FOV = 30;

async function inflate(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).arrayBuffer();
}

function geometryFrom(buffer, layout) {
  const count = layout.vertices;
  const quantised = new Int16Array(buffer, layout.positions, count * 3);
  const positions = new Float32Array(count * 3);
  for (let i = 0; i < count * 3; i++) positions[i] = (quantised[i] / 32767) * layout.half[i % 3];
  const geometry = new BufferGeometry();
  geometry.setAttribute('position', new BufferAttribute(positions, 3));
  if (layout.uvs !== null) {
    geometry.setAttribute('uv', new BufferAttribute(new Uint16Array(buffer, layout.uvs, count * 2), 2, true));
  }
  if (layout.colors !== null) {
    geometry.setAttribute('color', new BufferAttribute(new Uint8Array(buffer, layout.colors, count * 3), 3, true));
  }
  const Index = layout.index_bytes === 2 ? Uint16Array : Uint32Array;
  geometry.setIndex(new BufferAttribute(new Index(buffer, layout.faces, layout.triangles * 3), 1));
  geometry.computeVertexNormals();
  geometry.computeBoundingSphere();
  return geometry;
}

function loadTexture(uri) {
  return new Promise((resolve, reject) => {
    new TextureLoader().load(uri, (texture) => {
      texture.colorSpace = SRGBColorSpace;
      resolve(texture);
    }, undefined, () => reject(new Error('the texture could not be decoded')));
  });
}

class View {
  constructor(element, payload) {
    this.element = element;
    this.payload = payload;
    this.disposed = false;
  }

  async start() {
    const {payload, element} = this;
    element.dataset.state = 'loading';
    const buffer = await inflate(payload.geometry);
    const geometry = geometryFrom(buffer, payload.layout);
    const texture = payload.texture ? await loadTexture(payload.texture) : null;
    if (this.disposed) {
      geometry.dispose();
      if (texture) texture.dispose();
      return;
    }
    const renderer = new WebGLRenderer({antialias: true, preserveDrawingBuffer: true});
    renderer.setPixelRatio(window.devicePixelRatio || 1);
    const canvas = renderer.domElement;
    canvas.className = 'mesh3d-canvas';
    element.prepend(canvas);
    const scene = new Scene();
    scene.background = new Color(0x20252b);
    const material = new MeshStandardMaterial({
      map: texture, vertexColors: !texture && payload.layout.colors !== null, roughness: 0.75, metalness: 0,
      color: texture || payload.layout.colors !== null ? 0xffffff : 0xd8c8b8,
    });
    const mesh = new Mesh(geometry, material);
    scene.add(mesh);
    const radius = geometry.boundingSphere.radius;
    const camera = new PerspectiveCamera(FOV, 1, radius / 100, radius * 100);
    const headlight = new DirectionalLight(0xffffff, 1.6);
    headlight.position.set(0.3, 0.5, 1);
    camera.add(headlight);
    scene.add(camera, new HemisphereLight(0xffffff, 0x404040, 1.2), new AmbientLight(0xffffff, 0.3));
    const controls = new OrbitControls(camera, canvas);
    controls.enableDamping = false;
    Object.assign(this, {renderer, scene, camera, controls, mesh, geometry, material, texture, radius});
    controls.addEventListener('change', () => this.render());
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(element);
    this.toolbar();
    this.reset();
    element.dataset.state = 'ready';
  }

  toolbar() {
    const bar = document.createElement('div');
    bar.className = 'mesh3d-tools';
    const button = (label, title, action) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.title = title;
      b.addEventListener('click', action);
      bar.append(b);
      return b;
    };
    button('front', 'Look at the face from the camera of the photo', () => this.reset());
    button('side', 'Look at the face from its left', () => this.reset(Math.PI / 2));
    if (this.texture || this.payload.layout.colors !== null) {
      const toggle = button('albedo off', 'Show the shape alone, in grey', () => {
        const colored = this.material.map !== null || this.material.vertexColors;
        this.material.map = colored ? null : this.texture;
        this.material.vertexColors = !colored && !this.texture && this.payload.layout.colors !== null;
        this.material.color.set(colored ? 0xd8c8b8 : 0xffffff);
        this.material.needsUpdate = true;
        toggle.textContent = colored ? 'albedo on' : 'albedo off';
        this.render();
      });
    }
    this.element.append(bar);
  }

  reset(azimuth = 0) {
    const distance = this.radius / Math.sin((FOV / 2) * Math.PI / 180) * 1.05;
    this.camera.position.set(distance * Math.sin(azimuth), 0, distance * Math.cos(azimuth));
    this.camera.up.set(0, 1, 0);
    this.controls.target.set(0, 0, 0);
    this.controls.update();
    this.resize();
  }

  resize() {
    const width = Math.max(1, this.element.clientWidth);
    const height = Math.max(1, this.element.clientHeight);
    this.renderer.setSize(width, height);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  render() {
    if (!this.disposed && this.renderer) this.renderer.render(this.scene, this.camera);
  }

  dispose() {
    this.disposed = true;
    if (!this.renderer) return;
    this.resizer.disconnect();
    this.controls.dispose();
    this.geometry.dispose();
    this.material.dispose();
    if (this.texture) this.texture.dispose();
    this.renderer.dispose();
    this.renderer.forceContextLoss();
    this.renderer.domElement.remove();
    this.element.querySelectorAll('.mesh3d-tools').forEach((bar) => bar.remove());
    this.element.dataset.state = 'idle';
  }
}

function fail(element, error) {
  element.dataset.state = 'error';
  const note = document.createElement('p');
  note.className = 'mesh3d-error';
  note.textContent = `The 3D view could not be shown: ${error.message || error}`;
  element.append(note);
}

function payloadOf(element) {
  const source = document.getElementById(element.dataset.mesh);
  return source ? JSON.parse(source.textContent) : null;
}

// Start views of elements in sight, stop those far out of it.
export function mountAll(root = document) {
  const views = new Map();
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const element = entry.target;
      if (entry.isIntersecting && !views.has(element)) {
        const payload = payloadOf(element);
        if (!payload) {
          fail(element, new Error('its mesh is missing from the page'));
          observer.unobserve(element);
          continue;
        }
        const view = new View(element, payload);
        views.set(element, view);
        view.start().catch((error) => {
          views.delete(element);
          view.dispose();
          fail(element, error);
          observer.unobserve(element);
        });
      } else if (!entry.isIntersecting && views.has(element)) {
        views.get(element).dispose();
        views.delete(element);
      }
    }
  }, {rootMargin: '300px'});
  root.querySelectorAll('.mesh3d[data-mesh]').forEach((element) => observer.observe(element));
  return views;
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', () => mountAll());
} else {
  mountAll();
}
