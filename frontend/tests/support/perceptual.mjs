/**
 * A perceptual difference between two images, computed in the page with a canvas (no image library):
 * both are drawn downscaled by `downscale` (smoothed, so one-pixel glyph edges average out), turned to
 * grayscale (Rec. 709 luma), and compared pixel by pixel. Returns the mean absolute difference (0–255)
 * and the share of downscaled pixels that differ by more than 32 levels.
 */
export async function perceptualDifference(page, urlA, urlB, { width, height, downscale = 4 } = {}) {
  return page.evaluate(
    async ({ urlA, urlB, width, height, downscale }) => {
      const load = (src) =>
        new Promise((resolve, reject) => {
          const img = new Image();
          img.onload = () => resolve(img);
          img.onerror = () => reject(new Error(`could not load ${src.slice(0, 80)}`));
          img.src = src;
        });
      const w = Math.max(1, Math.round(width / downscale));
      const h = Math.max(1, Math.round(height / downscale));
      const gray = async (src) => {
        const canvas = document.createElement("canvas");
        canvas.width = w;
        canvas.height = h;
        const ctx = canvas.getContext("2d");
        ctx.imageSmoothingEnabled = true;
        ctx.imageSmoothingQuality = "high";
        ctx.drawImage(await load(src), 0, 0, w, h);
        const { data } = ctx.getImageData(0, 0, w, h);
        const out = new Float64Array(w * h);
        for (let i = 0; i < out.length; i++) out[i] = 0.2126 * data[4 * i] + 0.7152 * data[4 * i + 1] + 0.0722 * data[4 * i + 2];
        return out;
      };
      const [a, b] = [await gray(urlA), await gray(urlB)];
      let sum = 0;
      let far = 0;
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i] - b[i]);
        sum += d;
        if (d > 32) far++;
      }
      return { mean: sum / a.length, farShare: far / a.length, pixels: a.length };
    },
    { urlA, urlB, width, height, downscale },
  );
}
